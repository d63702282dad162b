"""The compiled part of the engine; everything else about the package is in pyproject.toml.

The limiter's search for the frames over its ceiling (engine/dsp/truepeak.py says why) is
built without FMA contraction: its float32 sums must round as numpy's do, on every machine.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "engine.dsp._truepeak",
            sources=["engine/dsp/_truepeak.c"],
            extra_compile_args=["-O3", "-ffp-contract=off"],
        )
    ]
)
