"""The health panel: memory, dropouts, switch latency, render workers and input filtering."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.reactive import reactive

from engine import EngineSnapshot
from engine.cache.worker import WorkerMetrics
from engine.observe.monitor import LatencyLine, MonitorSnapshot
from engine.prediction.interaction import FilterCounters
from tui.widgets.bars import NO_VALUE, horizontal_bar, megabytes
from tui.widgets.panel import Panel

STATUS_STYLES = {"healthy": "$success", "warning": "$warning", "critical": "$error"}
LEVEL_STYLES = {"normal": "$success", "elevated": "$warning", "high": "$warning"}
"""Memory degradation levels; anything else (critical) is drawn as an error."""
MEMORY_BAR_WIDTH = 8
LINES = 8
"""Lines without a last error, in every state: most updates repaint without a new layout."""


@dataclass(frozen=True)
class HealthFigures:
    """The part of a monitor reading this panel draws: output levels and the cache map
    change on every reading, and would otherwise repaint an unchanged panel."""

    status: str
    message: str
    underruns: int
    memory_level: str
    rss_bytes: int
    rss_limit_bytes: int
    budget_bytes: int
    total_bytes: int
    latencies: tuple[LatencyLine, ...]
    worker: WorkerMetrics
    interactions: FilterCounters

    @staticmethod
    def of(monitor: MonitorSnapshot) -> HealthFigures:
        return HealthFigures(
            monitor.health_status,
            monitor.health_message,
            monitor.underruns,
            monitor.memory_level,
            monitor.rss_bytes,
            monitor.rss_limit_bytes,
            monitor.budget_bytes,
            monitor.total_bytes,
            monitor.latencies,
            monitor.worker,
            monitor.interactions,
        )


def latency_text(line: LatencyLine) -> str:
    """`L1 12/30`: p50/p99 in ms, or a dash for a tier that has served no switch yet."""
    label = line.tier.upper() if line.tier.startswith("l") else line.tier
    if not line.count or line.p50_ms is None or line.p99_ms is None:
        return f"{label} {NO_VALUE}"
    return f"{label} {line.p50_ms:.0f}/{line.p99_ms:.0f}"


def status_badge(status: str) -> tuple[str, str]:
    """The status word on its colour (unknown statuses look critical: better loud)."""
    return f" {status.upper()} ", f"bold reverse {STATUS_STYLES.get(status, '$error')}"


class HealthPanel(Panel):
    """Whether playback is safe and why not: the engine's health verdict with its reason,
    memory against budget, dropouts, measured switch latency per serving tier, the render
    workers, and what the input filter held back.
    """

    BORDER_TITLE = "Health"

    figures: reactive[HealthFigures | None] = reactive(None)
    """The latest health figures from the monitor."""
    last_error: reactive[str] = reactive("", layout=True)
    """The last failure (the error log's, else the render workers'), with the count of all
    failures, on a line of its own that exists only while there is one: a new layout when
    it comes or goes, not on every reading."""

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Take the health figures from `monitor`; None (no new reading) keeps the last."""
        if monitor is not None:
            self.figures = HealthFigures.of(monitor)
            self.last_error = error_summary(snapshot, monitor.worker.last_error)

    def render(self) -> Content:
        figures = self.figures
        if figures is None:
            waiting = Content.styled("Waiting for the engine…", "dim")
            return Content("\n").join([waiting] + [Content()] * (LINES - 1))
        return Content("\n").join(
            [
                _status_line(figures),
                _memory_line(figures),
                _playback_line(figures),
                *_latency_lines(figures.latencies, figures.worker),
                *_worker_lines(figures.worker),
                _interaction_line(figures.interactions),
                *_error_lines(self.last_error),
            ]
        )


def _status_line(figures: HealthFigures) -> Content:
    return Content.assemble(status_badge(figures.status), f" {figures.message}")


def _memory_line(figures: HealthFigures) -> Content:
    fill = figures.total_bytes / figures.budget_bytes if figures.budget_bytes else 0.0
    return Content.assemble(
        f"tiers {megabytes(figures.total_bytes)}/{megabytes(figures.budget_bytes)} MB ",
        (horizontal_bar(fill, MEMORY_BAR_WIDTH), "$accent on $boost"),
        f"  rss {figures.rss_bytes / 1e6:.0f}/{figures.rss_limit_bytes / 1e6:.0f} MB",
    )


def _playback_line(figures: HealthFigures) -> Content:
    return Content.assemble(
        "degradation ",
        (figures.memory_level, LEVEL_STYLES.get(figures.memory_level, "$error")),
        "   underruns ",
        (str(figures.underruns), "bold $error" if figures.underruns else "$success"),
    )


def _latency_lines(latencies: tuple[LatencyLine, ...], worker: WorkerMetrics) -> list[Content]:
    """Switch latency by the tier that served the switch: L1/L2 hits should be near one
    block period, misses wait for a render (at the render speed told beside)."""
    tiers = "  ".join(latency_text(line) for line in latencies)
    heading = Content.styled("switch latency p50/p99 ms", "dim") + _speed(worker)
    return [heading, Content(tiers)]


def _worker_lines(worker: WorkerMetrics) -> list[Content]:
    """Throughput, then trouble: failures, timeouts and restarts."""
    alive_style = "" if worker.alive == worker.threads else "bold $error"
    throughput = Content.assemble(
        "workers ",
        (f"{worker.alive}/{worker.threads}", alive_style),
        (" paused" if worker.paused else "", "$warning"),
        f"  queue {worker.queue_depth}  busy {worker.busy_percent:.0f}%",
        f"  {worker.renders_per_second:.1f} renders/s",
    )
    trouble = worker.failures + worker.timeouts + worker.restarts
    counts = Content.styled(
        f"failures {worker.failures} · timeouts {worker.timeouts} · restarts {worker.restarts}",
        "$warning" if trouble else "dim",
    )
    return [throughput, counts]


def _speed(worker: WorkerMetrics) -> Content:
    """How fast a render thread goes, in real time (what a miss costs): a warning when
    renders are behind."""
    if worker.real_time_factor is None:
        return Content("")
    text = f" · render {worker.real_time_factor:.0f}x"
    if worker.behind:
        return Content.styled(f"{text}, behind", "bold $warning")
    return Content.styled(text, "dim")


def error_summary(snapshot: EngineSnapshot, worker_error: str) -> str:
    """`errors N (K distinct) · last: ...` from the error log, or the render workers' last
    error when the log has none (a failed render is counted by the workers)."""
    if not snapshot.errors:
        return f"last error: {worker_error}" if worker_error else ""
    total, distinct = snapshot.error_total, len(snapshot.errors)
    return f"errors {total} ({distinct} distinct) · last: {snapshot.errors[0].message}"


def _error_lines(last_error: str) -> list[Content]:
    return [Content.styled(last_error, "$error")] if last_error else []


def _interaction_line(counters: FilterCounters) -> Content:
    """What the input filter held back: throttled seeks, switches not learned (debounced or
    in rapid exploration), against the switches it did learn."""
    return Content(
        f"throttled {counters.throttled}  debounced {counters.debounced}"
        f"  rapid {counters.rapid_episodes}  learned {counters.learned}"
    )
