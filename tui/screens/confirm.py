"""A yes/no question that guards an action a stray key press should not trigger alone."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ConfirmScreen(ModalScreen[bool]):
    """Dismissed with True (confirm) or False (cancel); escape and `n` cancel."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 56; height: auto; padding: 1 2;
        border: round $warning; background: $surface;
    }
    ConfirmScreen #question { width: 1fr; margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Confirm", id="confirm_yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="confirm_no"),
    ]

    def __init__(self, question: str, confirm_label: str = "Confirm", title: str = "") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = self.title_text
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.confirm_label, id="confirm", variant="warning")

    def on_mount(self) -> None:
        # Cancel has the focus, so a held Enter cannot confirm by accident.
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, confirmed: bool) -> None:
        self.dismiss(confirmed)
