"""`tierplay render IN OUT --preset P [--intensity X]`: offline render of a whole file.

The file is rendered chunk by chunk at its own sample rate (no resampling), exactly as the
player renders it, so the output is what the listener hears.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import soundfile as sf

from engine.config import PRESET_ORDER, EngineConfig
from engine.dsp.render import Renderer, chunk_count
from engine.errors import TierplayError
from engine.library import probe
from engine.tracks import load_track

SUBTYPES = {"WAV": "PCM_24", "FLAC": "PCM_24", "AIFF": "PCM_24"}


class RenderError(TierplayError):
    """A render that cannot start or finish; the message is one line."""


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}%"


def output_format(path: Path) -> str:
    """soundfile's major format for an output path, or a clear error."""
    extension = path.suffix.lower().lstrip(".")
    known = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aiff": "AIFF", "aif": "AIFF"}
    if extension not in known:
        raise RenderError(f"{path.name}: cannot write .{extension}; use .wav, .flac, .ogg or .aiff")
    return known[extension]


def render_file(
    source: Path,
    target: Path,
    preset: str,
    intensity: float,
    progress: TextIO | None = None,
    chunk_seconds: float = 10.0,
) -> int:
    """Render `source` through `preset` into `target`; returns the frames written."""
    if preset not in PRESET_ORDER:
        raise RenderError(f"unknown preset {preset!r}; choose one of {', '.join(PRESET_ORDER)}")
    if not 0.0 <= intensity <= 1.0 or math.isnan(intensity):
        raise RenderError("--intensity must be between 0 and 1")
    major = output_format(target)
    if source.resolve() == target.resolve():
        raise RenderError("the output would overwrite the input; choose another file")
    native_rate = probe(source, 44_100).native_rate
    config = EngineConfig(sample_rate=native_rate, chunk_seconds=chunk_seconds)
    decoded = load_track(source, native_rate, config.max_track_seconds)
    for warning in decoded.track.warnings:
        print(f"tierplay: {source.name}: {warning}", file=sys.stderr)
    renderer = Renderer(config)
    chunks = chunk_count(decoded.samples.shape[0], config.chunk_frames)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with sf.SoundFile(
            partial, "w", native_rate, 2, SUBTYPES.get(major), format=major
        ) as output:
            for index in range(chunks):
                output.write(renderer.render_chunk(decoded, preset, intensity, index))
                if progress is not None:
                    progress.write(f"\r{target.name} {progress_bar(index + 1, chunks)}")
                    progress.flush()
        os.replace(partial, target)
    except (OSError, sf.LibsndfileError) as error:
        partial.unlink(missing_ok=True)
        raise RenderError(f"{target}: cannot write ({error})") from error
    if progress is not None:
        progress.write("\n")
    return int(decoded.samples.shape[0])


def run_render(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tierplay render", description="Render a whole file through a mastering preset."
    )
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--preset", required=True, choices=PRESET_ORDER)
    parser.add_argument("--intensity", type=float, default=1.0, help="0 = dry .. 1 = full")
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    frames = render_file(
        args.input, args.output, args.preset, args.intensity, sys.stderr, args.chunk_seconds
    )
    print(f"wrote {args.output} ({frames} frames, preset {args.preset} @ {args.intensity:.0%})")
    return 0
