"""The event log: engine messages as they happen, stamped and coloured by kind."""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Log

from engine import EngineSnapshot
from engine.observe.events import Subscription
from engine.observe.monitor import MonitorSnapshot
from tui.widgets.panel import framed_css

MAX_LINES = 500
"""Lines kept on screen; the engine keeps fewer (200), the log outlives its window."""
TIME_FORMAT = "%H:%M:%S"
STAMP_WIDTH = len("00:00:00")
INDENT = " " * (STAMP_WIDTH + 1)
"""What a message's further lines start with: they hang under its first word."""
NARROWEST_WRAP = 12
"""Cells a message's lines need at least; narrower, the lines are left whole."""
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
TRACK_START = "track start"
"""How the engine tells where a new track's first audio came from: a seek's news."""
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
    if lowered.startswith(TRACK_START):
        return "seek"
    for kind in PREFIX_KINDS:
        if lowered.startswith(kind):
            return kind
    if any(words in lowered for words in OUTPUT_WORDS):
        return "output"
    return "info"


class EventHighlighter(Highlighter):
    """Colours a stamped log line: the time muted, the message by its kind. A message's
    further lines (wrapped) take the kind its first line had."""

    def __init__(self, style_for: Callable[[str], Style]) -> None:
        """`style_for(kind)` gives the style for a kind, or `time` for the stamp."""
        self._style_for = style_for
        self.continued: OrderedDict[str, str] = OrderedDict()
        """The kind of each wrapped message's further lines, by their text."""

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if plain.startswith(INDENT):
            kind = self.continued.get(plain, "info")
        else:
            text.stylize(self._style_for("time"), 0, STAMP_WIDTH)
            kind = message_kind(plain[STAMP_WIDTH + 1 :])
        text.stylize(self._style_for(kind), STAMP_WIDTH + 1, len(text))


class EventLog(Log):
    """A bounded log of engine messages: each shown once, stamped when first seen (within
    one snapshot period of when it was logged), coloured by kind.

    A `Log`, not a `RichLog`: lines stay plain strings, cheap to keep and to search, and the
    colour is applied per visible line by the highlighter. A message wider than the panel
    is wrapped under its first word, and wrapped again when the panel's width changes: a
    `Log` cuts its lines, and a reason cut at 80 columns could not be read. Framed like a
    `Panel`, which a `Log` cannot derive from.
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
        scrollbar-gutter: stable;  /* the width lines wrap at stays put as the log grows */
        overflow-x: hidden;  /* lines are wrapped to the width: nothing to scroll to */
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
        self._colours = EventHighlighter(self._kind_style)
        self.highlighter = self._colours
        self._clock = clock
        self.messages: deque[str] = deque(maxlen=max_lines)
        """Every stamped message shown, whole (`lines` are what is drawn, wrapped)."""
        self._wrapped_at = 0
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
        stamped = lines + [f"{stamp} {message}" for message in new]
        self.messages.extend(stamped)
        self.write_lines(self._wrapped(stamped))

    def on_resize(self, _event: events.Resize) -> None:
        """Wrap every message again at the new width."""
        if self._wrap_width() != self._wrapped_at and self.messages:
            at_end = self.is_vertical_scroll_end
            self._colours.continued.clear()
            self.clear()
            self.write_lines(self._wrapped(self.messages), scroll_end=False)
            if at_end:
                self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _wrap_width(self) -> int:
        return self.scrollable_content_region.width

    def _wrapped(self, messages: Iterable[str]) -> list[str]:
        """The lines that draw `messages` at the panel's width: each message's further
        lines indented under its first word, and remembered for their colour."""
        width = self._wrapped_at = self._wrap_width()
        room = width - len(INDENT)
        if room < NARROWEST_WRAP:
            return list(messages)
        lines: list[str] = []
        continued = self._colours.continued
        for message in messages:
            if cell_len(message) <= width:
                lines.append(message)
                continue
            text = message[len(INDENT) :]
            parts = [line.plain.rstrip() for line in Text(text).wrap(self.app.console, room)]
            lines.append(message[: len(INDENT)] + (parts[0] if parts else ""))
            kind = message_kind(text)
            for part in parts[1:]:
                line = INDENT + part
                continued[line] = kind
                continued.move_to_end(line)
                lines.append(line)
        while len(continued) > (self.max_lines or len(continued)):
            continued.popitem(last=False)
        return lines

    def _mask(self, message: str) -> str:
        for word in self.masked:
            message = re.sub(rf"\b{re.escape(word)}\b", "?", message)
        return message

    def _kind_style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"event-log--{kind}", partial=True)
