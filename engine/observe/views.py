"""The JSON views of the engine (stats, predictions, contents, check, health).

They keep the field names of the system Tierplay replaces, with honest values: hit rates
over real lookups, sizes in real encoded bytes, latencies from measured switches.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from engine.cache.buffer import MultiTierBuffer
from engine.cache.keys import ChunkKey
from engine.cache.worker import BEHIND_SECONDS, WorkerMetrics
from engine.config import EngineConfig
from engine.observe.memory import MemoryMonitor
from engine.playback.feed import ServedRequest
from engine.prediction.predict import PredictorView, PresetPredictor
from engine.vocabulary import MB, TIER_NAMES, TierName, plural

SLOW_SERVE_MS = 150.0
"""A switch or seek heard later than this after its key is heard as late."""
TROUBLE_SECONDS = 60.0
"""Late switches count as trouble for this long."""
CRITICAL_SLOW_SERVES = 5
CRITICAL_UNDERRUNS = 10


class LatencyBook:
    """Measured switch latencies (command -> first new frame played), per serving tier."""

    def __init__(self, keep: int = 500) -> None:
        self._by_tier: dict[str, deque[float]] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, record: ServedRequest) -> None:
        if record.latency_ms is None or record.kind != "switch":
            return
        with self._lock:
            self._by_tier.setdefault(record.tier, deque(maxlen=self._keep)).append(
                record.latency_ms
            )

    def samples(self, tier: str) -> list[float]:
        with self._lock:
            return list(self._by_tier.get(tier, ()))

    def percentile(self, tier: str, fraction: float) -> float | None:
        values = sorted(self.samples(tier))
        if not values:
            return None
        return values[min(len(values) - 1, int(fraction * len(values)))]


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def stats_view(
    buffer: MultiTierBuffer, predictor: PresetPredictor, switches_in_session: int
) -> dict[str, Any]:
    view: dict[str, Any] = {}
    figures = buffer.tier_figures()
    for figure in figures:
        view[figure.name] = {
            "size_mb": round(figure.size_bytes / MB, 3),
            "count": figure.count,
            "hits": figure.hits,
            "misses": figure.misses,
            "hit_rate": round(figure.hit_rate, 4),
            "utilization": round(_rate(figure.size_bytes, figure.budget_bytes), 4),
            "max_mb": round(figure.budget_bytes / MB, 3),
        }
    total_hits = sum(f.hits for f in figures)
    total_misses = figures[-1].misses
    score = predictor.score()
    view["overall"] = {
        "total_hits": total_hits,
        "total_misses": total_misses,
        "overall_hit_rate": round(_rate(total_hits, total_hits + total_misses), 4),
        "total_size_mb": round(buffer.total_bytes() / MB, 3),
    }
    view["prediction"] = {
        "accuracy": round(score.top1_accuracy, 4),
        "top3_accuracy": round(score.top3_accuracy, 4),
        "brier_score": round(score.brier, 4),
        "predictions_made": score.predictions_made,
        "switches_in_session": switches_in_session,
        "session_duration_minutes": round(predictor.session_minutes(), 3),
    }
    return view


def predictions_view(preset: str, position_seconds: float, view: PredictorView) -> dict[str, Any]:
    """The documented shape, plus what the predictor bases it on and how well it has done."""
    ranked = sorted(view.distribution.items(), key=lambda item: -item[1])
    return {
        "current_preset": preset,
        "current_position": round(position_seconds, 3),
        "predictions": [{"preset": p, "probability": round(v, 6)} for p, v in ranked],
        "switch_probability_per_chunk": round(view.switch_probability_per_chunk, 4),
        "context": view.context,
        "learned_switches": view.learned_switches,
        "blend_weights": {name: round(w, 4) for name, w in view.blend_weights.items()},
        "accuracy": view.score.as_dict(),
        "accuracy_by_context": {c: s.as_dict() for c, s in view.by_context.items()},
        "baselines": {name: s.as_dict() for name, s in view.baselines.items()},
    }


def contents_view(buffer: MultiTierBuffer, config: EngineConfig) -> dict[str, Any]:
    view: dict[str, Any] = {}
    total = 0
    for name, entries in buffer.entries().items():
        view[f"{name}_entries"] = [
            {
                "track_id": e.key.track_id,
                "preset": e.key.preset,
                "chunk_idx": e.key.chunk_index,
                "intensity": round(config.bucket_intensity(e.key.intensity_bucket), 4),
                "tier": name,
                "access_count": e.access_count,
                "probability": round(e.probability, 6),
                "size_bytes": e.size_bytes,
            }
            for e in sorted(
                entries, key=lambda e: (e.key.track_id, e.key.chunk_index, e.key.preset)
            )
        ]
        total += len(entries)
    view["total_entries"] = total
    return view


def check_view(
    buffer: MultiTierBuffer,
    config: EngineConfig,
    latencies: LatencyBook,
    track_id: str,
    preset: str,
    chunk_index: int,
    intensity: float,
) -> dict[str, Any]:
    """Is this chunk cached, where, and how long a switch to it took when served from there."""
    key = ChunkKey(track_id, preset, config.intensity_bucket(intensity), chunk_index)
    tier = buffer.peek_tier(key)
    served_as = tier or "miss"
    measured = latencies.percentile(served_as, 0.5)
    return {
        "track_id": track_id,
        "preset": preset,
        "chunk_idx": chunk_index,
        "intensity": round(config.bucket_intensity(key.intensity_bucket), 4),
        "is_cached": tier is not None,
        "tier": tier,
        "estimated_latency_ms": round(measured, 2) if measured is not None else None,
        "latency_samples": len(latencies.samples(served_as)),
    }


def health_view(
    buffer: MultiTierBuffer,
    predictor: PresetPredictor,
    worker: WorkerMetrics,
    underruns: int,
    memory: MemoryMonitor,
    slow_serves: int = 0,
) -> dict[str, Any]:
    """The status says what a listener hears: dropouts, late switches (`slow_serves` in
    the last minute), render threads down, memory pressure. A cold or missing cache is not
    trouble while switches stay prompt; its hit rates are told, not judged."""
    figures = {f.name: f for f in buffer.tier_figures()}
    lookups = figures[TierName.L1].hits + figures[TierName.L1].misses
    l1_rate = figures[TierName.L1].hit_rate
    overall = _rate(sum(f.hits for f in figures.values()), lookups)
    status = "healthy"
    problems = []
    if underruns:
        problems.append(plural(underruns, "underrun"))
        status = "critical" if underruns > CRITICAL_UNDERRUNS else "warning"
    if slow_serves:
        late = plural(slow_serves, "late switch", "late switches")
        problems.append(f"{late} in the last minute")
        severe = slow_serves >= CRITICAL_SLOW_SERVES
        status = max(status, "critical" if severe else "warning", key=_severity)
    if worker.behind:
        waiting = plural(worker.behind, "urgent render")
        problems.append(f"renders behind: {waiting} waiting over {BEHIND_SECONDS:g} s")
        status = max(status, "warning", key=_severity)
    if worker.alive < worker.threads:
        problems.append(f"{worker.threads - worker.alive} render threads down")
        status = max(status, "warning", key=_severity)
    if memory.level:
        problems.append(f"memory pressure {memory.level_name}")
        status = max(status, "warning", key=_severity)
    if lookups:
        problems.append(f"L1 hit rate {l1_rate:.0%}, overall {overall:.0%}")
    limit = buffer.total_budget_bytes()
    return {
        "status": status,
        "message": "; ".join(problems) if problems else "no lookups yet",
        "l1_hit_rate": round(l1_rate, 4),
        "overall_hit_rate": round(overall, 4),
        "total_memory_mb": round(buffer.total_bytes() / MB, 3),
        "memory_limit_mb": round(limit / MB, 3),
        "memory_utilization": round(_rate(buffer.total_bytes(), limit), 4),
        "prediction_accuracy": round(predictor.score().top1_accuracy, 4),
        "underruns": underruns,
        "memory_level": memory.level_name,
        "process_rss_mb": round(memory.last_reading.rss_bytes / MB, 1),
        "worker": {
            "threads": worker.threads,
            "alive": worker.alive,
            "paused": worker.paused,
            "queue_depth": worker.queue_depth,
            "renders_total": worker.renders_total,
            "renders_per_second": round(worker.renders_per_second, 3),
            "failures": worker.failures,
            "timeouts": worker.timeouts,
            "abandoned": worker.abandoned,
            "restarts": worker.restarts,
            "busy_percent": round(worker.busy_percent, 1),
            "last_error": worker.last_error,
            "real_time_factor": (
                None if worker.real_time_factor is None else round(worker.real_time_factor, 1)
            ),
            "behind": worker.behind,
        },
    }


def _severity(status: str) -> int:
    return ("healthy", "warning", "critical").index(status)


__all__ = [
    "TIER_NAMES",
    "LatencyBook",
    "check_view",
    "contents_view",
    "health_view",
    "predictions_view",
    "stats_view",
]
