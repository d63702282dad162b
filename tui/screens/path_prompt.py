"""Asks for a file or folder path (open a library, record a trace)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PathPrompt(ModalScreen[Path | None]):
    """Dismissed with the path typed (`~` expanded) on Enter, or None on escape.

    The prompt only reads what was typed: whether the path is usable is decided by whoever
    acts on it, off the UI thread, and reported from there.
    """

    DEFAULT_CSS = """
    PathPrompt { align: center middle; }
    PathPrompt > Vertical {
        width: 80; height: auto; padding: 1 2;
        border: round $accent; background: $surface;
    }
    PathPrompt Label { margin-bottom: 1; }
    PathPrompt #hint { color: $text-muted; margin: 1 0 0 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="path_cancel"),
    ]

    def __init__(self, title: str, prompt: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = self.title_text
            yield Label(self.prompt)
            yield Input(self.value, placeholder=self.placeholder, id="path")
            yield Label("enter to accept, escape to cancel", id="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("Type a path first (or escape to cancel).", severity="warning")
            return
        self.dismiss(Path(text).expanduser())

    def action_cancel(self) -> None:
        self.dismiss(None)
