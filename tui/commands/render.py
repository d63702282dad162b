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

from engine.config import EngineConfig
from engine.dsp.render import Renderer, chunk_count
from engine.errors import TierplayError
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.library.tracks import Track
from engine.presets.book import PresetBook
from tui.cli import presets_path

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


def check_output_folder(target: Path) -> None:
    """The folder the output goes in exists and takes files (libsndfile would only say
    "System error.")."""
    folder = target.parent
    if not folder.is_dir():
        raise RenderError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise RenderError(f"cannot write {target}: the folder {folder} is not writable")
    try:
        if target.is_dir():
            raise RenderError(f"cannot write {target}: it is a folder")
    except OSError as error:  # a symlink loop (Python 3.11's is_dir lets ELOOP through)
        raise RenderError(f"cannot write {target}: {error.strerror or error}") from error
    if os.path.islink(target) and not os.path.exists(target):
        raise RenderError(f"cannot write {target}: a symbolic link that leads nowhere")


def render_file(
    source: Path,
    target: Path,
    preset: str,
    intensity: float,
    progress: TextIO | None = None,
    chunk_seconds: float = 10.0,
    presets_file: Path | None = None,
) -> int:
    """Render `source` through `preset` (a built-in, or one of `presets_file`) into
    `target`; returns the frames written."""
    known = PresetBook(44_100, presets_file).order
    if preset not in known:
        raise RenderError(f"unknown preset {preset!r}; choose one of {', '.join(known)}")
    if not 0.0 <= intensity <= 1.0 or math.isnan(intensity):
        raise RenderError("--intensity must be between 0 and 1")
    major = output_format(target)
    track = probe(source, 44_100)  # a missing, looping or unreadable input says so first
    check_output_folder(target)
    if os.path.realpath(source) == os.path.realpath(target):
        raise RenderError("the output would overwrite the input; choose another file")
    config = EngineConfig(sample_rate=track.native_rate, chunk_seconds=chunk_seconds)
    track = probe(source, track.native_rate)

    def ends_early(_track: Track, frames: int, why: str) -> None:
        played = f"{frames / config.sample_rate:.1f} s of {track.duration_seconds:.1f} s"
        print(f"tierplay: {source.name}: truncated: {played} playable ({why})", file=sys.stderr)

    stream = TrackSource(track, config.sample_rate, on_end=ends_early)
    renderer = Renderer(config, presets=PresetBook(config.sample_rate, presets_file))
    partial = target.with_name(f".{target.name}.partial")
    written = 0
    try:
        with sf.SoundFile(
            partial, "w", config.sample_rate, 2, SUBTYPES.get(major), format=major
        ) as output:
            index = 0
            while index < chunk_count(stream.frames, config.chunk_frames):
                audio = renderer.render_chunk(stream, preset, intensity, index)
                output.write(audio)
                written += audio.shape[0]
                index += 1
                if progress is not None:
                    total = chunk_count(stream.frames, config.chunk_frames)
                    progress.write(f"\r{target.name} {progress_bar(index, total)}")
                    progress.flush()
        os.replace(partial, target)
    except (OSError, sf.LibsndfileError) as error:
        partial.unlink(missing_ok=True)
        raise RenderError(f"{target}: cannot write ({error})") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress.write("\n")
    return written


def run_render(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tierplay render", description="Render a whole file through a mastering preset."
    )
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument(
        "--preset", required=True, help="a built-in or one of yours (tierplay presets)"
    )
    parser.add_argument("--intensity", type=float, default=1.0, help="0 = dry .. 1 = full")
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    frames = render_file(
        args.input,
        args.output,
        args.preset,
        args.intensity,
        sys.stderr,
        args.chunk_seconds,
        presets_path(),
    )
    print(f"wrote {args.output} ({frames} frames, preset {args.preset} @ {args.intensity:.0%})")
    return 0
