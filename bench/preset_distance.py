"""Preset distance: how far apart each pair of built-in presets sounds, loudness-matched, per track.

The rule to check: every pair of the six built-ins must be at least 1.5 dB apart on every kind
of music, or two keys would give the listener the same sound. Per track, a 30 s excerpt from
the middle (the whole track if shorter) is rendered through each built-in by the engine's own
`Renderer`, so loudness matching and the true-peak limiter apply as in the player. Features of
a render (mono = mean of the two channels): the levels of 10 octave bands (31.5 Hz - 16 kHz,
edges at centre/sqrt(2) and centre*sqrt(2), from one Hann-windowed FFT), each relative to the
excerpt's total energy in dB, and the crest factor in dB (peak/RMS on 400 ms frames, median
over frames). The distance of two presets is the largest absolute difference of those 11
features, in dB; the feature that gave it is printed too. The figures are the player's own
(`engine/dsp/distinctness.py`), by which it tells a listener a preset changes nothing here.

Baseline from the same run: each preset against itself rendered again from scratch (the file
probed again, a new source and renderer: its own sample, calibration and chains), which must
be 0.00 dB: proof the figures are deterministic.

Default tracks: the real-music corpus (`bench/corpus.py`, ~/.cache/tierplay/corpus) when
present, or `--library DIR` instead, plus always the repository's `sample_audio/`.

Run: .venv/bin/python -m bench.preset_distance [--library DIR] [--seconds 30]
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.corpus import corpus_dir, corpus_tracks
from engine.config import EngineConfig
from engine.dsp.distinctness import AUDIBLE_DB, SoundProfile, sound_profile
from engine.dsp.render import Renderer
from engine.errors import TrackError
from engine.frames import Audio
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.presets.book import builtin_presets

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
THRESHOLD_DB = AUDIBLE_DB
"""The rule: every pair of built-ins at least this far apart on every track."""
"""Ten band levels (dB re the total energy), then the crest factor (dB)."""


@dataclass(frozen=True)
class PairDistance:
    """Two presets on one track: their distance in dB and the feature that decided it."""

    first: str
    second: str
    distance_db: float
    feature: str


@dataclass(frozen=True)
class TrackResult:
    """One track's pairs, and each preset's distance to itself rendered again (baseline)."""

    name: str
    duration_seconds: float
    excerpt_start_seconds: float
    excerpt_seconds: float
    pairs: list[PairDistance]
    baseline: dict[str, tuple[float, bool]]
    """preset -> (distance to its second render in dB, bit-identical samples)."""


# -- rendering --------------------------------------------------------------------------------


def excerpt_bounds(frames: int, seconds: float, rate: int) -> tuple[int, int]:
    """[start, stop) of `seconds` from the middle: past intros and fade-outs, as listened."""
    length = round(seconds * rate)
    if frames <= length:
        return 0, frames
    start = (frames - length) // 2
    return start, start + length


def open_source(path: Path, rate: int) -> TrackSource:
    """A new source for each pass: a source learns the real end of a file whose header
    overstates its length (lossy files), and the track's sample windows are placed by that
    length, so a reused source would calibrate the second pass on other windows."""
    return TrackSource(probe(path, rate), rate)


def render_features(
    source: TrackSource, config: EngineConfig, presets: tuple[str, ...], span: tuple[int, int]
) -> tuple[dict[str, SoundProfile], dict[str, Audio]]:
    """Each preset's render of the excerpt and its features, from a renderer of its own: a
    fresh one samples and calibrates again, so a second pass also proves those
    deterministic."""
    renderer = Renderer(config)
    renders: dict[str, Audio] = {}
    found: dict[str, SoundProfile] = {}
    for preset in presets:
        audio = renderer.render_range(source, preset, 1.0, span[0], span[1])
        renders[preset] = audio
        found[preset] = sound_profile([audio.mean(axis=1)], config.sample_rate)
    return found, renders


def measure_track(path: Path, config: EngineConfig, seconds: float) -> TrackResult:
    """All 15 pair distances on one track's excerpt, and the render-twice baseline."""
    rate = config.sample_rate
    source = open_source(path, rate)
    presets = tuple(preset.name for preset in builtin_presets(rate))
    span = excerpt_bounds(source.frames, seconds, rate)
    first, first_audio = render_features(source, config, presets, span)
    second, second_audio = render_features(open_source(path, rate), config, presets, span)
    baseline = {
        name: (
            first[name].distance(second[name])[0],
            bool(np.array_equal(first_audio[name], second_audio[name])),
        )
        for name in presets
    }
    del first_audio, second_audio
    pairs = [
        PairDistance(a, b, *first[a].distance(first[b]))
        for a, b in itertools.combinations(presets, 2)
    ]
    return TrackResult(
        path.name,
        source.frames / rate,
        span[0] / rate,
        (span[1] - span[0]) / rate,
        pairs,
        baseline,
    )


# -- report -----------------------------------------------------------------------------------


def flag(distance_db: float) -> str:
    """A mark on the pairs that break the rule, so they stand out in a long table."""
    return f"  < {THRESHOLD_DB:.1f}" if distance_db < THRESHOLD_DB else ""


def print_track(result: TrackResult) -> None:
    """The track's 15 pairs beside its baseline, then its closest pair."""
    minutes, secs = divmod(result.duration_seconds, 60)
    print(
        f"\n{result.name}  ({int(minutes)}:{secs:05.2f}; excerpt {result.excerpt_seconds:.2f} s "
        f"from {result.excerpt_start_seconds:.2f} s)"
    )
    baseline = ", ".join(
        f"{name} {value:.2f}{'' if same else ' (samples differ)'}"
        for name, (value, same) in result.baseline.items()
    )
    print(f"  baseline, each preset vs itself rendered again (dB): {baseline}")
    print(f"  {'pair':<20}{'dB':>7}  deciding feature")
    for pair in result.pairs:
        label = f"{pair.first}/{pair.second}"
        print(f"  {label:<20}{pair.distance_db:>7.2f}  {pair.feature}{flag(pair.distance_db)}")
    closest = min(result.pairs, key=lambda p: p.distance_db)
    print(
        f"  closest pair: {closest.first}/{closest.second} {closest.distance_db:.2f} dB "
        f"({closest.feature})"
    )


def print_summary(results: list[TrackResult], seconds: float) -> None:
    """The rule's verdict over all tracks, with the determinism baseline beside it."""
    every = [(r.name, p) for r in results for p in r.pairs]
    below = [(name, p) for name, p in every if p.distance_db < THRESHOLD_DB]
    worst_baseline = max((v for r in results for v, _ in r.baseline.values()), default=0.0)
    all_identical = all(same for r in results for _, same in r.baseline.values())
    print(f"\nSummary over {len(results)} tracks ({seconds:g} s excerpts)")
    print(
        f"baseline (preset vs itself rendered twice): max {worst_baseline:.2f} dB, "
        f"samples {'bit-identical' if all_identical else 'NOT all identical'}"
    )
    print(f"(track, pair) below {THRESHOLD_DB:.1f} dB: {len(below)} of {len(every)}")
    for name, pair in sorted(below, key=lambda item: item[1].distance_db):
        label = f"{pair.first}/{pair.second}"
        print(f"  {name:<34}{label:<20}{pair.distance_db:>6.2f}  {pair.feature}")
    print("minimum per pair over the tracks:")
    for index, pair in enumerate(results[0].pairs if results else []):
        name, low = min(((r.name, r.pairs[index]) for r in results), key=lambda x: x[1].distance_db)
        label = f"{pair.first}/{pair.second}"
        print(f"  {label:<20}{low.distance_db:>6.2f}  {low.feature:<8} on {name}")
    if every:
        name, least = min(every, key=lambda item: item[1].distance_db)
        print(
            f"overall minimum: {least.first}/{least.second} {least.distance_db:.2f} dB "
            f"({least.feature}) on {name}"
        )


# -- command line -----------------------------------------------------------------------------


def track_paths(library: Path | None) -> list[Path]:
    """The corpus (or `--library`), then sample_audio/: real music first, test tones last."""
    folders = [library if library is not None else corpus_dir(), SAMPLE_AUDIO]
    paths: list[Path] = []
    for folder in folders:
        paths += [p for p in corpus_tracks(folder) if p not in paths]
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--library", type=Path, default=None, help=f"default: {corpus_dir()} (if present)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="excerpt length")
    args = parser.parse_args()
    paths = track_paths(args.library)
    if not paths:
        raise SystemExit("no audio files in the library or in sample_audio/")
    config = EngineConfig()
    started = time.perf_counter()
    results = []
    for path in paths:
        try:
            result = measure_track(path, config, args.seconds)
        except TrackError as error:
            print(f"\n{path.name}: skipped ({error.reason})")
            continue
        print_track(result)
        results.append(result)
    print_summary(results, args.seconds)
    print(f"runtime: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
