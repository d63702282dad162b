"""Render benchmark: speed per preset against a bare pedalboard chain, plus quality figures.

Speed: real-time factor of one 10 s chunk rendered with its 2 s warm-up and look-ahead, on
one core, and the ratio of that time to the same preset's pedalboard plugins run bare on the
same segment in the same run (interleaved, median of N). The render's stages are timed one
by one in the same run (read: the window decoded from the file; planar and out: the
transposes in and out; chain: plugins and width; mix: dry/wet; limiter: the true-peak
limiter), so the ratio says where it comes from. A render reads its window from the
engine's shared block cache: "cold" decodes every block (the first preset of a chunk),
"shared" finds them there (the other presets of the chunk, as the engine renders them), and
"no read" leaves the read out altogether, which the bare chain is spared. Calibration: the
time to sample a track and calibrate a preset, against the track's length. Quality:
seamlessness (10 s and 7 s chunks against a continuous render of the first `--seconds`),
each preset's loudness against the original as played (whole track), the spread of the
six, true peak, and the smallest spectral/crest distance between two processed presets, per
track.

With `--engine-malloc` glibc's malloc is set up as the engine sets it (`tune_malloc`: its
mmap threshold fixed at 4 MB), so a render's windows are mapped and page-faulted afresh
each time, as in the player, for ours and the bare chain alike; by default they are reused
from the heap, as in the figures of earlier runs.

Run: .venv/bin/python -m bench.render [--repeats N] [--skip-quality] [--library DIR]
[--clock cpu] [--speed-every-track] [--engine-malloc]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads BLAS

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy.signal import welch

from engine.config import EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.chain import PresetChain, build_board, mix_dry_wet
from engine.dsp.limiter import limit_true_peak, limiter_reach_frames
from engine.dsp.loudness import integrated_loudness
from engine.dsp.render import Renderer, chunk_bounds, chunk_count
from engine.dsp.render_speed import RenderSpeed
from engine.dsp.truepeak import interleaved, true_peak_db
from engine.library.decoders import AUDIO_EXTENSIONS
from engine.library.scan import probe
from engine.library.source import BlockCache, TrackSource
from engine.observe.memory import MMAP_THRESHOLD_BYTES, tune_malloc
from engine.vocabulary import PRESET_ORDER

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
PROCESSED = [name for name in PRESET_ORDER if name != "original"]
STAGES = ("read", "planar", "chain", "mix", "limiter", "out")
Result = TypeVar("Result")


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]
"""What the speed table reads: wall time, or the process's CPU time on a machine that other
work shares (a render preempted halfway is not slower; the ratios stay like for like)."""


def time_call(function: object) -> float:
    start = clock()
    function()  # type: ignore[operator]
    return clock() - start


BLOCKS = BlockCache(int(EngineConfig().source_cache_mb * 1e6))
"""The block cache the tracks are read through, of the engine's size."""


def source_for(path: Path) -> TrackSource:
    """The track as the engine reads it: through a block cache."""
    return TrackSource(probe(path, 44_100), 44_100, BLOCKS)


def forget_blocks(track: TrackSource) -> None:
    BLOCKS.forget(track.track.id)


def speed_table(track: TrackSource, repeats: int) -> None:
    config = EngineConfig()
    renderer = Renderer(config)
    index = 1 if track.frames > 2 * config.chunk_frames else 0
    start = index * config.chunk_frames
    first = max(0, start - renderer.warmup_frames)
    last = min(track.frames, start + config.chunk_frames + renderer.lookahead_frames)
    segment = np.ascontiguousarray(track.read(first, last).T)
    print(
        f"\nSpeed on {track.track.path.name}, chunk {index} (10 s + warm-up/look-ahead), 1 core,"
        f" {'CPU' if clock is CLOCKS['cpu'] else 'wall'} time"
    )
    stages = "".join(f"{name:>8}" for name in STAGES)
    heads = (
        f"{'cold ms':>9}{'shared':>8}{'bare ms':>9}{'RTF':>6}"
        f"{'cold/bare':>10}{'shared/bare':>12}{'no read':>8}"
    )
    print(f"{'preset':<10}{heads}{stages}")
    for preset in PROCESSED:
        plan = renderer.plan(track, preset)  # calibrated once per track, not per chunk
        board = build_board(plan.preset)
        staged = StagedRender(renderer, track, preset, index)
        cold, shared, bare, parts = [], [], [], []
        for _ in range(repeats):
            forget_blocks(track)
            cold.append(time_call(lambda p=preset: renderer.render_chunk(track, p, 1.0, index)))
            shared.append(time_call(lambda p=preset: renderer.render_chunk(track, p, 1.0, index)))
            bare.append(time_call(lambda b=board: b(segment, config.sample_rate, reset=True)))
            forget_blocks(track)
            parts.append(staged.run())
        cold_s, shared_s = statistics.median(cold), statistics.median(shared)
        bare_s = statistics.median(bare)
        stage_s = {name: statistics.median(p[name] for p in parts) for name in STAGES}
        cells = "".join(f"{stage_s[name] * 1000:>8.1f}" for name in STAGES)
        print(
            f"{preset:<10}{cold_s * 1000:>9.1f}{shared_s * 1000:>8.1f}{bare_s * 1000:>9.1f}"
            f"{config.chunk_seconds / cold_s:>5.0f}x{cold_s / bare_s:>10.2f}"
            f"{shared_s / bare_s:>12.2f}{(cold_s - stage_s['read']) / bare_s:>8.2f}{cells}"
        )


class StagedRender:
    """`Renderer.render_range`'s steps one by one, each timed (the sum is the render plus a
    few clock reads). Its output is checked against `render_chunk`'s once, so a change to
    the renderer that this copy misses stops the benchmark instead of timing something
    else."""

    def __init__(self, renderer: Renderer, track: TrackSource, preset: str, index: int):
        config = renderer.config
        self.renderer, self.track = renderer, track
        self.start, self.stop = chunk_bounds(index, track.frames, config.chunk_frames)
        self.first = max(0, self.start - renderer.warmup_frames)
        self.plan = renderer.plan(track, preset)
        self.chain = PresetChain(self.plan.preset)
        self.level = config.bucket_intensity(config.intensity_bucket(1.0))
        times: dict[str, float] = {}
        expected = renderer.render_chunk(track, preset, 1.0, index)
        if not np.array_equal(self._render(times), expected):
            raise SystemExit(f"bench.render: its stages no longer render {preset} as ours does")

    def run(self) -> dict[str, float]:
        """Seconds per stage of one render."""
        times: dict[str, float] = {}
        self._render(times)
        return times

    def _render(self, times: dict[str, float]) -> npt.NDArray[np.float32]:
        rate, ceiling = self.renderer.config.sample_rate, self.renderer.config.true_peak_ceiling_db
        stop, first = self.stop, self.first
        window = timed(times, "read", lambda: self.track.read(first, stop + self.lookahead))
        dry = timed(times, "planar", lambda: np.ascontiguousarray(window.T))
        # (the engine copies cached blocks straight into the planar array: read and planar
        # together are its cold read)
        reach = limiter_reach_frames(rate)
        kept = slice(max(0, self.start - reach - first), stop + reach - first)
        wet = timed(times, "chain", lambda: self.chain.process(dry, rate, first, kept))
        gain = self.plan.wet_gain
        mixed = timed(times, "mix", lambda: mix_dry_wet(dry[:, kept], wet, self.level, gain))
        origin = first + kept.start
        limited = timed(times, "limiter", lambda: limit_true_peak(mixed, rate, ceiling, origin))
        start = self.start
        return timed(times, "out", lambda: interleaved(limited[:, start - origin : stop - origin]))

    @property
    def lookahead(self) -> int:
        return self.renderer.lookahead_frames


def timed(times: dict[str, float], stage: str, step: Callable[[], Result]) -> Result:
    start = clock()
    result = step()
    times[stage] = clock() - start
    return result


def calibration_table(track: TrackSource, recalibrations: list[bool]) -> None:
    """The sample, each preset's calibration on it, and its recalibration once the whole
    track's loudness is known (the engine's when the sample misread it), which renders the
    sample's windows again only where the limiter would take something off: appends to
    `recalibrations` whether each did."""
    print(f"\nOne-off sample and loudness calibration per preset on {track.track.path.name}")
    whole: list[float] = []
    speed = RenderSpeed()
    calibrations = LoudnessCalibrations(whole_loudness=lambda _key: whole[0] if whole else None)
    renderer = Renderer(EngineConfig(), calibrations, speed=speed)
    seconds = time_call(lambda: renderer.sample(track))
    ratio = track.track.duration_seconds / seconds
    print(f"  {'sample':<10}{seconds * 1000:>8.0f} ms  ({ratio:.0f}x the track length)")
    timed_presets = {}
    for preset in PROCESSED:
        seconds = time_call(lambda p=preset: renderer.plan(track, p))
        timed_presets[preset] = seconds
    whole.append(integrated_loudness(track.read(0, track.frames), renderer.config.sample_rate))
    for preset, seconds in timed_presets.items():
        before = speed.noted
        again = time_call(lambda p=preset: renderer.whole_track_gain(track, p))
        rendered = speed.noted > before
        recalibrations.append(rendered)
        how = "renders again" if rendered else "from its measure"
        ratio = track.track.duration_seconds / seconds
        print(
            f"  {preset:<10}{seconds * 1000:>8.0f} ms  ({ratio:.0f}x the track length);"
            f" recalibrated in {again * 1000:5.1f} ms, {how}"
        )


def octave_levels(audio: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    frequencies, power = welch(audio.mean(axis=1), rate, nperseg=8192)
    levels = []
    for centre in (31.5 * 2**k for k in range(10)):
        band = (frequencies >= centre / 2**0.5) & (frequencies < centre * 2**0.5)
        levels.append(10 * np.log10(power[band].sum() + 1e-20))
    return np.array(levels)


def crest_db(audio: npt.NDArray[np.float32]) -> float:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    return 20 * float(np.log10(np.max(np.abs(audio)) / rms))


def db(value: float) -> str:
    return "  exact" if value == 0 else f"{20 * np.log10(value):7.1f}"


def quality_table(track: TrackSource, seam_seconds: float) -> None:
    rate = EngineConfig().sample_rate
    renderers = {seconds: Renderer(EngineConfig(chunk_seconds=seconds)) for seconds in (10.0, 7.0)}
    source_lufs = integrated_loudness(track.read(0, track.frames), rate)
    source_tp = true_peak_db(track.read(0, track.frames))
    name = track.track.path.name
    # The engine calibrates a track from its sample alone when it must start at once, and
    # against the whole track's loudness once the streaming analysis has read it.
    analysed = Renderer(EngineConfig(), LoudnessCalibrations(whole_loudness=lambda _k: source_lufs))
    print(f"\nQuality on {name} (source {source_lufs:.2f} LUFS, {source_tp:+.2f} dBTP)")
    print(
        f"{'preset':<10}{'10s vs cont dB':>15}{'7s vs cont dB':>14}{'dLU':>7}{'dBTP':>7}"
        f"{'analysed dLU':>14}"
    )
    renders = {}
    loudness = {}
    informed = {}
    seam_frames = min(track.frames, round(seam_seconds * rate))
    for preset in PRESET_ORDER:
        full = renderers[10.0].render_track(track, preset, 1.0)
        renders[preset] = full
        loudness[preset] = integrated_loudness(full, rate)
        informed[preset] = integrated_loudness(analysed.render_track(track, preset, 1.0), rate)
        diffs = []
        for renderer in renderers.values():
            count = chunk_count(seam_frames, renderer.config.chunk_frames)
            chunks = [renderer.render_chunk(track, preset, 1.0, i) for i in range(count)]
            joined = np.concatenate(chunks)[:seam_frames]
            diffs.append(float(np.max(np.abs(joined - full[:seam_frames]))))
        print(
            f"{preset:<10}{db(diffs[0]):>15}{db(diffs[1]):>14}"
            f"{loudness[preset] - loudness['original']:>+7.2f}{true_peak_db(full):>7.2f}"
            f"{informed[preset] - informed['original']:>+14.2f}"
        )
    spread = max(loudness.values()) - min(loudness.values())
    spread_analysed = max(informed.values()) - min(informed.values())
    print(
        f"spread of the six presets: {spread:.2f} LU from the sample alone, "
        f"{spread_analysed:.2f} LU once the track is analysed (goal <= 0.5)"
    )
    distances = []
    for first, second in itertools.combinations(PROCESSED, 2):
        bands = np.abs(octave_levels(renders[first], rate) - octave_levels(renders[second], rate))
        crest = abs(crest_db(renders[first]) - crest_db(renders[second]))
        distances.append((max(float(bands.max()), crest), first, second))
    smallest = min(distances)
    print(f"closest pair of presets: {smallest[1]}/{smallest[2]} differ by {smallest[0]:.1f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--library", type=Path, help="also measure these tracks (real music)")
    parser.add_argument("--seconds", type=float, default=60.0, help="span checked for seams")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="cpu: when the machine is busy"
    )
    parser.add_argument(
        "--speed-every-track", action="store_true", help="not just the first and the last"
    )
    parser.add_argument(
        "--engine-malloc", action="store_true", help="glibc's malloc set up as the engine's"
    )
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    if args.engine_malloc:
        tune_malloc()
        print(f"malloc: the engine's (mmap threshold {MMAP_THRESHOLD_BYTES >> 20} MB)")
    else:
        print("malloc: glibc's defaults (windows reused from the heap)")
    pin_to_one_core()
    paths = sorted(SAMPLE_AUDIO.glob("*.flac"))
    if args.library is not None:
        paths += sorted(p for p in args.library.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    tracks = [source_for(path) for path in paths]
    for track in tracks if args.speed_every_track else tracks[:1] + tracks[len(paths) - 1 :]:
        speed_table(track, args.repeats)
    recalibrations: list[bool] = []
    for track in tracks:
        calibration_table(track, recalibrations)
    print(
        f"\nrecalibrations against the whole track that rendered the sample again: "
        f"{sum(recalibrations)} of {len(recalibrations)} (the limiter would take something off)"
    )
    if not args.skip_quality:
        for track in tracks:
            quality_table(track, args.seconds)


if __name__ == "__main__":
    main()
