"""Process-wide settings for a process that plays audio, applied by its entry point.

They change the whole interpreter (the garbage collector, the GIL's switch interval,
malloc's arenas), so a library constructor must not apply them behind its host's back:
`tierplay`, `tierplay simulate` and the benchmarks call this once, after their imports.
"""

from __future__ import annotations

import gc
import sys

from engine.observe.memory import tune_malloc

STEP_FINISH_SECONDS = 30.0
"""How long a closing part waits for its thread to finish the step it is in (one window,
one block: short, but a niced thread on a busy machine is slow). Giving up sooner leaves a
daemon thread that may be inside a C++ extension (the plugin chain, an FFT) when the
interpreter exits, and the interpreter's end of it aborts the process."""


def tune_runtime_for_audio() -> None:
    """GC and GIL settings measured to keep the feeder and the UI smooth, and malloc's
    arena limit and mmap threshold measured to keep the heap small (docs/architecture.md,
    Audio rules)."""
    tune_malloc()
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 10**9)
    sys.setswitchinterval(0.001)
