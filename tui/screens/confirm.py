"""A yes/no question that guards an action a stray key press should not trigger alone."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ConfirmScreen(ModalScreen[bool]):
    """Dismissed with True (confirm) or False (cancel); escape and `n` cancel. The keys
    that answer it are named on it, as the keymap has them."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 56; height: auto; padding: 1 2;
        border: round $warning; background: $surface;
    }
    ConfirmScreen #question { width: 1fr; margin-bottom: 1; }
    ConfirmScreen #keys { width: 1fr; margin-top: 1; color: $text-muted; }
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
            yield Label("", id="keys")

    def on_mount(self) -> None:
        # Cancel has the focus, so a held Enter cannot confirm by accident; the keys line
        # says so.
        self.query_one("#cancel", Button).focus()
        yes, no = self._keys("confirm_yes"), self._keys("confirm_no")
        self.query_one("#confirm", Button).label = f"{self.confirm_label} ({yes[0]})"
        self.query_one("#cancel", Button).label = f"Cancel ({no[0]})"
        self.query_one("#keys", Label).update(
            f"{' or '.join(yes)}: {self.confirm_label.lower()}  ·  "
            f"{' or '.join(no)}: cancel  ·  enter: the highlighted button"
        )

    def _keys(self, binding_id: str) -> list[str]:
        """The keys bound to `binding_id` now, as the footer names them."""
        keys = [
            self.app.get_key_display(active.binding)
            for active in self.active_bindings.values()
            if active.binding.id == binding_id
        ]
        return keys or ["?"]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, confirmed: bool) -> None:
        self.dismiss(confirmed)
