"""Heavy chains: what a chunk of a convolution preset costs against a built-in's.

The heavy presets (`engine/presets/examples/heavy.toml`: a linear-phase EQ, and one with
a generated room too) through the engine's own `Renderer`: one 10 s chunk rendered with
its warm-up and look-ahead (widened by the kernel's reach), on one core, its real-time
factor, and its time as a ratio to a built-in preset's chunk measured in the same run
(interleaved, median of N). Calibration and the kernel's design are done before timing:
both happen once per track and per preset, not per chunk; the design's own cold time
(scipy's import included) is printed apart.

Tracks: the real-music corpus (~/.cache/tierplay/corpus) when present, or `--library`,
and sample_audio/.

Run: .venv/bin/python -m bench.heavy_chain [--repeats N] [--baseline warm] [--library DIR]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads BLAS

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path

from bench.corpus import corpus_dir, corpus_tracks
from engine.config import EngineConfig
from engine.dsp.chain import PresetChain
from engine.dsp.fir import linear_phase_kernel
from engine.dsp.kernels import clear_kernels, preset_kernel
from engine.dsp.render import Renderer
from engine.dsp.room import room_response
from engine.errors import TrackError
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.presets.book import PresetBook

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
EXAMPLES = Path(str(resources.files("engine.presets").joinpath("examples/heavy.toml")))


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def seconds_of(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def kernel_table(book: PresetBook, heavy: list[str], rate: int) -> None:
    """Each heavy preset's kernel: taps, partitions, reach, and its design from cold."""
    print(f"Kernels at {rate} Hz (designed once per preset and rate, then shared)")
    print(
        f"  {'preset':<10}{'taps':>7}{'parts':>7}{'before ms':>11}{'after ms':>10}{'design ms':>11}"
    )
    for name in heavy:
        preset = book.get(name)
        clear_kernels()
        for cache in (linear_phase_kernel, room_response):
            cache.cache_clear()
        design = seconds_of(partial(preset_kernel, preset, rate))
        kernel = preset_kernel(preset, rate)
        assert kernel is not None
        before, after = kernel.reach
        print(
            f"  {name:<10}{kernel.taps:>7}{kernel.partitions:>7}{before / rate * 1000:>11.0f}"
            f"{after / rate * 1000:>10.0f}{design * 1000:>11.1f}"
        )
    print("  (the first design's time includes loading scipy)")


def wet_path_table(
    path: Path, book: PresetBook, presets: list[str], config: EngineConfig, repeats: int
) -> None:
    """The chains alone on one decoded window (each its own width, reach included): a
    chunk's time besides decoding, which the per-track figures share; no loudness gain or
    limiter, which cost alike for every preset."""
    rate = config.sample_rate
    source = TrackSource(probe(path, rate), rate)
    renderer = Renderer(config, presets=book)
    chains = {preset: PresetChain(book.get(preset)) for preset in presets}
    widest = max(chain.reach(rate)[0] for chain in chains.values())
    start = min(max(config.chunk_frames, renderer.warmup_frames + widest), source.frames // 2)
    print(f"\nThe wet path alone on {path.name} (decoded once), 1 core, median of {repeats}")
    print(f"  {'preset':<10}{'frames':>9}{'ms':>8}{'RTF':>7}{'ratio':>7}")
    base = 0.0
    for preset in presets:
        chain = chains[preset]
        before, after = chain.reach(rate)
        first = start - renderer.warmup_frames - before
        last = start + config.chunk_frames + renderer.lookahead_frames + after
        window = source.read(first, last).T.copy()
        chain.process(window, rate, origin_frame=first)  # its kernel designed, not timed
        took = statistics.median(
            seconds_of(partial(chain.process, window, rate, first)) for _ in range(repeats)
        )
        base = base or took
        print(
            f"  {preset:<10}{window.shape[1]:>9}{took * 1000:>8.1f}"
            f"{config.chunk_seconds / took:>6.0f}x{took / base:>7.2f}"
        )


def measure_track(
    path: Path, book: PresetBook, presets: list[str], config: EngineConfig, repeats: int
) -> dict[str, float] | None:
    """Median seconds of one chunk per preset, interleaved; None if the track cannot play."""
    try:
        source = TrackSource(probe(path, config.sample_rate), config.sample_rate)
        renderer = Renderer(config, presets=book)
        index = 1 if source.frames > 2 * config.chunk_frames else 0
        for preset in presets:  # calibration and kernel design: once per track, not timed
            renderer.render_chunk(source, preset, 1.0, index)
    except TrackError as error:
        print(f"  {path.name}: skipped ({error.reason})")
        return None
    times: dict[str, list[float]] = {preset: [] for preset in presets}
    for _ in range(repeats):
        for preset in presets:
            times[preset].append(
                seconds_of(partial(renderer.render_chunk, source, preset, 1.0, index))
            )
    return {preset: statistics.median(values) for preset, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7, help="renders per preset (median)")
    parser.add_argument("--baseline", default="warm", help="the built-in to compare with")
    parser.add_argument(
        "--library", type=Path, default=None, help=f"default: {corpus_dir()} (if present)"
    )
    args = parser.parse_args()
    pin_to_one_core()
    config = EngineConfig()
    rate = config.sample_rate
    book = PresetBook(rate, EXAMPLES)
    if book.problems:
        raise SystemExit("; ".join(map(str, book.problems)))
    heavy = [preset.name for preset in book.presets() if preset.convolves]
    presets = [args.baseline, *heavy]
    kernel_table(book, heavy, rate)

    paths = corpus_tracks(args.library) + corpus_tracks(SAMPLE_AUDIO)
    if paths:
        wet_path_table(paths[-1], book, presets, config, args.repeats)
    chunk = config.chunk_seconds
    print(
        f"\nOne {chunk:g} s chunk with warm-up and look-ahead, 1 core, median of {args.repeats}"
        f"; ratio = preset's time / {args.baseline}'s"
    )
    header = "".join(f"{name + ' ms':>12}{'RTF':>7}{'ratio':>7}" for name in heavy)
    print(f"  {'track':<32}{args.baseline + ' ms':>10}{'RTF':>7}{header}")
    ratios: dict[str, list[float]] = {name: [] for name in heavy}
    rtfs: dict[str, list[float]] = {name: [] for name in presets}
    for path in paths:
        medians = measure_track(path, book, presets, config, args.repeats)
        if medians is None:
            continue
        base = medians[args.baseline]
        rtfs[args.baseline].append(chunk / base)
        row = f"  {path.name[:31]:<32}{base * 1000:>10.1f}{chunk / base:>6.0f}x"
        for name in heavy:
            ratios[name].append(medians[name] / base)
            rtfs[name].append(chunk / medians[name])
            row += f"{medians[name] * 1000:>12.1f}{chunk / medians[name]:>6.0f}x"
            row += f"{medians[name] / base:>7.2f}"
        print(row)
    if not ratios[heavy[0]]:
        raise SystemExit("no audio files in the corpus or in sample_audio/")
    print(f"\nOver {len(ratios[heavy[0]])} tracks (median, min-max):")
    print(f"  {args.baseline:<10} RTF {statistics.median(rtfs[args.baseline]):.0f}x")
    for name in heavy:
        values = ratios[name]
        print(
            f"  {name:<10} RTF {statistics.median(rtfs[name]):.0f}x"
            f"  ratio to {args.baseline} {statistics.median(values):.2f}"
            f" ({min(values):.2f}-{max(values):.2f})"
        )


if __name__ == "__main__":
    main()
