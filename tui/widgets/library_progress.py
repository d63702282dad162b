"""A one-line bar that shows a library being scanned, hidden the rest of the time.

Opening a folder of thousands of files takes seconds (each header is read); the scan runs
in a thread and reports here, so the listener sees it moving while every panel stays live.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class LibraryProgress(Horizontal):
    """`Opening <what>: done / total files` and a bar; `display` is on only while opening."""

    DEFAULT_CSS = """
    LibraryProgress {
        height: 1;
        display: none;
        padding: 0 1;
        & > Label { width: auto; padding-right: 1; color: $text-accent; }
        & > ProgressBar { width: 1fr; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Label(id="library-progress-label")
        yield ProgressBar(show_eta=False, id="library-progress-bar")

    def begin(self, what: str) -> None:
        """Show the bar for a new scan of `what`, its size not known yet."""
        self._what = what
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(Label).update(f"Opening {what}: scanning")
        self.display = True

    def advance(self, done: int, total: int) -> None:
        """`done` of `total` files probed (reports may arrive after `end`: then ignored)."""
        if not self.display:
            return
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one(Label).update(f"Opening {self._what}: {done:,} / {total:,} files")

    def end(self) -> None:
        self.display = False

    @property
    def label(self) -> str:
        """What the bar says, for tests and for the palette's status."""
        return str(self.query_one(Label).content)
