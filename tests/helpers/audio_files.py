"""Audio files the tests generate: short tones, and a track whose sample misreads it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from mediafile import MediaFile

REPO = Path(__file__).resolve().parent.parent.parent
SAMPLE_AUDIO = REPO / "sample_audio"


def write_tone(
    path: Path,
    seconds: float = 3.0,
    rate: int = 44_100,
    frequency: float = 440.0,
    channels: int = 2,
    level: float = 0.3,
    subtype: str = "PCM_16",
) -> Path:
    """A short sine file; enough to exercise decoding and playback."""
    t = np.arange(int(seconds * rate)) / rate
    tone = level * np.sin(2 * np.pi * frequency * t)
    data = np.repeat(tone[:, None], channels, axis=1)
    sf.write(path, data, rate, subtype=subtype)
    return path


def write_album(folder: Path, songs: Sequence[tuple[str, str, int, str]]) -> Path:
    """Three-second tones in `folder`, `0.flac`, `1.flac`..., tagged with each song's
    (artist, album, track number, title)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (artist, album, number, title) in enumerate(songs):
        path = write_tone(folder / f"{index}.flac", seconds=3.0, frequency=300.0 + 50 * index)
        tags = MediaFile(str(path))
        tags.artist, tags.album, tags.track, tags.title = artist, album, number, title
        tags.save()
    return folder


def write_quiet_in_half_the_windows(path: Path, rate: int = 44_100) -> Path:
    """80 s of noise, 8 dB quieter in every other calibration sample window (5.5 s long,
    10.6 s apart) and loud everywhere else: the sample reads it 1.2 LU quieter than it is."""
    rng = np.random.default_rng(11)
    frames = 80 * rate
    level = np.full(frames, 0.05)
    span = round(5.5 * rate)
    for start in [round(k * (frames - span) / 7) for k in range(0, 8, 2)]:
        level[start : start + span] /= 2.5
    sf.write(path, (level[:, None] * rng.standard_normal((frames, 2))).astype(np.float32), rate)
    return path
