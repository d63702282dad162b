"""The event log: engine messages as they happen, stamped and coloured by kind."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.widgets import Log

from engine import EngineSnapshot
from engine.observe.events import Subscription
from engine.observe.monitor import MonitorSnapshot
from tui.widgets.panel import framed_css

MAX_LINES = 500
"""Lines kept on screen; the engine keeps fewer (200), the log outlives its window."""
TIME_FORMAT = "%H:%M:%S"
STAMP_WIDTH = len("00:00:00")
KINDS = (
    "track",
    "switch",
    "seek",
    "skipped",
    "throttled",
    "debounced",
    "rapid",
    "render",
    "memory",
    "output",
    "error",
    "info",
)
"""Message kinds, each drawn with the component class `event-log--<kind>`."""
PREFIX_KINDS = ("switch", "seek", "throttled", "debounced", "rapid", "render", "memory")
"""Kinds told by the message's first word, as the engine writes them."""
TRACK_CHANGES = ("now playing “", "playing “", "skipped to “", "back to “", "resumed “")
"""How the engine tells a track change (`skipped to “…”` is not a skipped file)."""
ERROR_WORDS = ("failed", "error", "not usable", "could not", "cannot")
OUTPUT_WORDS = ("audio output", "audio device")


def message_kind(message: str) -> str:
    """The kind of an engine message, for its colour.

    A skipped file is a skip whatever the reason says; other failures are errors whatever
    their subject, so a failed render reads as red, not as routine render news.
    """
    lowered = message.lower()
    if lowered.startswith(TRACK_CHANGES):
        return "track"
    if lowered.startswith("skipped") or lowered.endswith("skipped"):
        return "skipped"
    if any(word in lowered for word in ERROR_WORDS):
        return "error"
    for kind in PREFIX_KINDS:
        if lowered.startswith(kind):
            return kind
    if any(words in lowered for words in OUTPUT_WORDS):
        return "output"
    return "info"


class EventHighlighter(Highlighter):
    """Colours a stamped log line: the time muted, the message by its kind."""

    def __init__(self, style_for: Callable[[str], Style]) -> None:
        """`style_for(kind)` gives the style for a kind, or `time` for the stamp."""
        self._style_for = style_for

    def highlight(self, text: Text) -> None:
        text.stylize(self._style_for("time"), 0, STAMP_WIDTH)
        kind = message_kind(text.plain[STAMP_WIDTH + 1 :])
        text.stylize(self._style_for(kind), STAMP_WIDTH + 1, len(text))


class EventLog(Log):
    """A bounded log of engine messages: each shown once, stamped when first seen (within
    one snapshot period of when it was logged), coloured by kind.

    A `Log`, not a `RichLog`: lines stay plain strings, cheap to keep and to search, and the
    colour is applied per visible line by the highlighter. Framed like a `Panel`, which a
    `Log` cannot derive from.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"event-log--time"} | {
        f"event-log--{kind}" for kind in KINDS
    }
    """
    | Class | Description |
    | :- | :- |
    | `event-log--time` | The time stamp. |
    | `event-log--<kind>` | A message of that kind (see `KINDS`). |
    """

    BORDER_TITLE = "Events"
    DEFAULT_CSS = framed_css(
        "EventLog",
        """
        & > .event-log--time { color: $foreground-darken-3; }
        & > .event-log--track { color: $text-accent; text-style: bold; }
        & > .event-log--switch { color: $text-primary; }
        & > .event-log--seek { color: $text-secondary; }
        & > .event-log--skipped { color: $text-warning; }
        & > .event-log--throttled { color: $foreground-darken-3; }
        & > .event-log--debounced { color: $foreground-darken-3; }
        & > .event-log--rapid { color: $primary-lighten-3; }
        & > .event-log--render { color: $text-success; }
        & > .event-log--memory { color: $text-warning; }
        & > .event-log--output { color: $text-warning; }
        & > .event-log--error { color: $text-error; text-style: bold; }
        & > .event-log--info { color: $foreground; }
        """,
    )

    def __init__(
        self,
        *,
        max_lines: int = MAX_LINES,
        clock: Callable[[], float] = time.time,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """An empty event log.

        Args:
            max_lines: Lines kept; older ones are dropped.
            clock: Wall-clock time in seconds, for the stamps (injected by tests).
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
            disabled: Whether the widget is disabled or not.
        """
        super().__init__(
            highlight=True,
            max_lines=max_lines,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self.highlighter = EventHighlighter(self._kind_style)
        self._clock = clock
        self._events: Subscription | None = None
        self.masked: tuple[str, ...] = ()
        """Words written as `?` (the presets of a blind test)."""

    def follow(self, events: Subscription) -> None:
        """Show the log lines of this event subscription (`Engine.subscribe`) from now on."""
        self._events = events

    def show(self, snapshot: EngineSnapshot, monitor: MonitorSnapshot | None) -> None:
        """Append the log lines told since the last call; each once, whatever the rate. A
        log that fell too far behind says how many events it lost."""
        if self._events is None:
            return
        events, dropped = self._events.take()
        new = [self._mask(event.payload) for event in events if event.kind == "log"]
        if not new and not dropped:
            return
        stamp = time.strftime(TIME_FORMAT, time.localtime(self._clock()))
        lines = [f"{stamp} … {dropped} earlier events not shown"] if dropped else []
        self.write_lines(lines + [f"{stamp} {message}" for message in new])

    def _mask(self, message: str) -> str:
        for word in self.masked:
            message = re.sub(rf"\b{re.escape(word)}\b", "?", message)
        return message

    def _kind_style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"event-log--{kind}", partial=True)
