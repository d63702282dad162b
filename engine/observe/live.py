"""`LiveViews`: the engine's state read for the screen and the API, from every part at once.

`snapshot` is the cheap transport state (10 Hz); `monitor` walks the tiers, the worker queue
and the output ring for the panels (2-4 Hz); `health` is the API's health view with the
player-wide figures the buffer alone does not know. Each reads the engine's parts
through their own thread-safe accessors; none holds a lock of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.cache.worker import WorkerMetrics
from engine.dsp.render import chunk_count
from engine.library.tracks import Track
from engine.observe.memory import UNCOUNTED_MB
from engine.observe.monitor import (
    METER_FRAMES,
    CacheMap,
    MonitorSnapshot,
    TierLine,
    cache_map,
    latency_lines,
    output_levels,
)
from engine.observe.snapshot import EngineSnapshot
from engine.observe.views import SLOW_SERVE_MS, TROUBLE_SECONDS, health_view
from engine.vocabulary import BYPASS, MB

BUFFERING_SECONDS = 0.15
"""Silence longer than this while playing is shown as buffering."""

if TYPE_CHECKING:
    from engine.assembly import Parts


class LiveViews:
    """Reads only; every method from any thread."""

    def __init__(self, parts: Parts, clock: Callable[[], float]) -> None:
        self._parts = parts
        self._clock = clock
        self._starved_since: float | None = None
        """When the output last ran out of audio to play, while it still has none."""

    def snapshot(self) -> EngineSnapshot:
        e = self._parts
        track, position = e.player.position()
        position = max(0.0, position - e.sink.latency_seconds)  # what is heard right now
        index, count = e.playlist.place(track)
        messages, message_count = e.journal.messages()
        queue = e.queue
        ready, total = self._presets_ready(track)
        return EngineSnapshot(
            track=track,
            track_index=index,
            track_count=count,
            position_seconds=position,
            duration_seconds=track.duration_seconds if track else 0.0,
            playing=e.player.playing,
            ended=e.player.ended,
            volume=e.player.volume,
            muted=e.settings.muted,
            preset=e.feed.active.preset,
            requested_preset=e.feed.requested.preset,
            intensity=e.settings.intensity,
            output_name=e.sink.name,
            output_notice=e.sink.notice,
            underruns=e.sink.ring.underruns,
            chunk_index=int(position * e.config.sample_rate) // e.config.chunk_frames,
            skipped=e.playlist.skipped(),
            messages=messages,
            errors=e.errors.entries(),
            error_total=e.errors.total,
            message_count=message_count,
            chunk_seconds=e.config.chunk_seconds,
            repeat=queue.repeat,
            shuffle=queue.shuffle,
            scope=queue.scope,
            queued=queue.queued,
            buffering=self._buffering(),
            presets=e.presets.presets(),
            sounds_like=(
                e.calibrations.sounds_like(track.fingerprint, e.feed.requested.preset)
                if track is not None
                else None
            ),
            presets_ready=ready,
            presets_total=total,
            standing_in=e.feed.standing_in,
        )

    def _presets_ready(self, track: Track | None) -> tuple[int, int]:
        """(processed presets calibrated for `track`, those it prepares): until all are, a
        first switch to one waits for its calibration. A settled listener's track prepares
        the one playing (`TrackPreparation.wanted`); before the track is prepared, every
        processed preset counts."""
        renderer = self._parts.feed.renderer
        if track is None or renderer is None:
            return 0, 0
        source = self._parts.store.get(track)
        wanted = self._parts.preparation.wanted(track)
        processed = [
            preset
            for preset in self._parts.presets.order
            if preset != BYPASS and (wanted is None or preset in wanted)
        ]
        ready = sum(renderer.is_prepared(source, preset) for preset in processed)
        return ready, len(processed)

    def _buffering(self) -> bool:
        """Playing, and the output has had nothing to play for `BUFFERING_SECONDS`: a seek
        or a start whose audio is not there yet (a blink between two blocks is not)."""
        e = self._parts
        if not e.player.playing or e.sink.ring.queued_frames() >= e.sink.block_frames:
            self._starved_since = None
            return False
        now = self._clock()
        if self._starved_since is None:
            self._starved_since = now
        return now - self._starved_since >= BUFFERING_SECONDS

    def health(self, worker: WorkerMetrics | None = None) -> dict[str, Any]:
        e = self._parts
        worker = worker or e.workers.metrics()
        underruns = e.sink.ring.underruns
        slow = e.journal.slow_serves(SLOW_SERVE_MS, TROUBLE_SECONDS)
        view = health_view(e.buffer, e.predictor, worker, underruns, e.memory, slow)
        view["process_rss_limit_mb"] = round(self._rss_limit_bytes() / MB, 1)
        view["process_budget_mb"] = round(e.config.process_budget_mb, 1)
        working = e.store.blocks.size_bytes + e.calibrations.sample_bytes
        view["working_memory_mb"] = round(working / MB, 2)
        reuse = e.store.blocks.reuse
        view["source_block_reuse"] = None if reuse is None else round(reuse, 3)
        view["stand_ins"] = e.feed.stand_ins
        view["render_fallbacks"] = e.feed.render_fallbacks
        return view

    def monitor(self, map_columns: int) -> MonitorSnapshot:
        e = self._parts
        worker = e.workers.metrics()
        health = self.health(worker)
        ring = e.sink.ring
        playing = ring.peek(ring.read_index, METER_FRAMES) if e.player.playing else None
        return MonitorSnapshot(
            tiers=tuple(TierLine.of(f) for f in e.buffer.tier_figures()),
            cache_map=self._cache_map(map_columns),
            preset=e.feed.requested.preset,
            predictor=e.replanner.predictor_view(),
            health_status=health["status"],
            health_message=health["message"],
            underruns=ring.underruns,
            latencies=latency_lines(e.journal.latencies),
            worker=worker,
            interactions=e.filter.counters(),
            memory_level=e.memory.level_name,
            rss_bytes=e.memory.last_reading.rss_bytes,
            rss_limit_bytes=self._rss_limit_bytes(),
            budget_bytes=e.buffer.total_budget_bytes(),
            total_bytes=e.buffer.total_bytes(),
            output=output_levels(playing, e.config.sample_rate),
        )

    def _cache_map(self, map_columns: int) -> CacheMap | None:
        e = self._parts
        track, position = e.player.position()
        if track is None:
            return None
        chunk_frames = e.config.chunk_frames
        frame = int(position * e.config.sample_rate)
        return cache_map(
            e.buffer,
            e.presets.order,
            e.workers.queued_keys(),
            e.workers.running_keys(),
            track.id,
            chunk_count(track.frames, chunk_frames),
            e.feed.requested.bucket,
            frame // chunk_frames,
            (frame % chunk_frames) / chunk_frames,
            map_columns,
            {preset: e.settings.bucket_of(preset) for preset in e.presets.order},
        )

    def _rss_limit_bytes(self) -> int:
        e = self._parts
        held_mb = e.config.process_budget_mb + UNCOUNTED_MB
        return e.memory.baseline_rss_bytes + int(held_mb * MB)
