"""`Engine`: the one facade the TUI, the CLI, benchmarks and tests use."""

from __future__ import annotations

import gc
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.config import PRESET_ORDER, EngineConfig
from engine.errors import TrackError, UnknownPreset
from engine.library import SkippedFile, open_library
from engine.output import Audio, NullSink, Sink, SinkError, SoundDeviceSink
from engine.player import Player
from engine.tracks import DecodedTrack, Track, load_track

DECODED_TRACKS_KEPT = 3


@dataclass(frozen=True)
class EngineSnapshot:
    """Everything the UI shows, read in one call so panels never disagree."""

    track: Track | None
    track_index: int
    track_count: int
    position_seconds: float
    duration_seconds: float
    playing: bool
    volume: float
    preset: str
    intensity: float
    output_name: str
    output_notice: str
    underruns: int
    skipped: tuple[SkippedFile, ...]
    messages: tuple[str, ...]
    """The most recent engine messages (bounded), oldest first."""
    message_count: int
    """Messages ever logged: the UI shows the ones it has not seen yet."""


def tune_runtime_for_audio() -> None:
    """GC and GIL settings measured to keep the feeder and the UI smooth (see DESIGN.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 10**9)
    sys.setswitchinterval(0.001)


def make_sink(config: EngineConfig, kind: str | Sink, device: str | int | None) -> Sink:
    """Open the requested output; `auto` falls back to the null sink and says why."""
    if not isinstance(kind, str):
        return kind
    if kind == "null":
        return NullSink(config.sample_rate, config.block_frames)
    try:
        return SoundDeviceSink(device, config.sample_rate, config.block_frames)
    except (SinkError, OSError) as error:
        if kind == "sounddevice":
            raise SinkError(str(error)) from error
        return NullSink(config.sample_rate, config.block_frames, reason=str(error))


class Engine:
    """Owns the library, the player and the sink; every public method is thread-safe."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        sink: str | Sink = "auto",
        device: str | int | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.sink = make_sink(self.config, sink, device)
        self._lock = threading.Lock()
        self._tracks: list[Track] = []
        self._skipped: list[SkippedFile] = []
        self._messages: deque[str] = deque(maxlen=200)
        self._message_count = 0
        self._decoded: OrderedDict[str, DecodedTrack] = OrderedDict()
        self._preset = "original"
        self._intensity = 1.0
        self.player = Player(self.sink, self._read_audio, self._on_track_error)
        self.sink.start()

    # -- library --------------------------------------------------------------------------
    def open(self, paths: Iterable[str | Path]) -> list[Track]:
        tracks, skipped = open_library(paths, self.sink.sample_rate)
        with self._lock:
            self._tracks = tracks
            self._skipped.extend(skipped)
            for item in skipped:
                self._log(f"skipped {item.path.name}: {item.reason}")
        self.player.set_tracks(tracks)
        return list(tracks)

    def _decoded_track(self, track: Track) -> DecodedTrack:
        key = f"{track.id}:{track.fingerprint}"
        with self._lock:
            if key in self._decoded:
                self._decoded.move_to_end(key)
                return self._decoded[key]
        decoded = load_track(track.path, self.sink.sample_rate, self.config.max_track_seconds)
        with self._lock:
            self._decoded[key] = decoded
            while len(self._decoded) > DECODED_TRACKS_KEPT:
                self._decoded.popitem(last=False)
            for warning in decoded.track.warnings:
                self._log(f"{track.path.name}: {warning}")
        return decoded

    def _read_audio(self, track: Track, start: int, count: int) -> Audio:
        samples = self._decoded_track(track).samples
        return samples[start : start + count]

    def _on_track_error(self, track: Track, error: Exception) -> None:
        reason = error.reason if isinstance(error, TrackError) else f"playback failed ({error})"
        with self._lock:
            self._skipped.append(SkippedFile(track.path, reason))
            self._log(f"skipped {track.path.name}: {reason}")

    def _log(self, message: str) -> None:
        """Record a message for the UI; the caller holds the lock."""
        self._messages.append(message)
        self._message_count += 1

    # -- transport ------------------------------------------------------------------------
    def play(self) -> None:
        self.player.play()

    def pause(self) -> None:
        self.player.pause()

    def seek(self, seconds: float) -> None:
        self.player.seek(seconds)

    def seek_relative(self, delta: float) -> None:
        _track, position = self.player.position()
        self.player.seek(position + delta)

    def next_track(self) -> None:
        self.player.skip(+1)

    def prev_track(self) -> None:
        self.player.skip(-1)

    def set_volume(self, volume: float) -> None:
        self.player.set_volume(volume)

    def set_preset(self, name: str) -> None:
        if name not in PRESET_ORDER:
            raise UnknownPreset(name, PRESET_ORDER)
        with self._lock:
            self._preset = name

    def set_intensity(self, value: float) -> None:
        with self._lock:
            self._intensity = min(max(float(value), 0.0), 1.0)

    # -- views ----------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        track, position = self.player.position()
        with self._lock:
            index = self._tracks.index(track) if track in self._tracks else 0
            return EngineSnapshot(
                track=track,
                track_index=index,
                track_count=len(self._tracks),
                position_seconds=position,
                duration_seconds=track.duration_seconds if track else 0.0,
                playing=self.player.playing,
                volume=self.player.volume,
                preset=self._preset,
                intensity=self._intensity,
                output_name=self.sink.name,
                output_notice=getattr(self.sink, "reason", ""),
                underruns=self.sink.ring.underruns,
                skipped=tuple(self._skipped),
                messages=tuple(self._messages),
                message_count=self._message_count,
            )

    def close(self) -> None:
        self.player.close()
        self.sink.close()
