"""Textual's Linux driver, leaving the terminal without waiting for its input thread.

At exit Textual joins its input thread, which polls the terminal every 0.1 s and then
polls once more with nothing registered: 0.1 to 0.2 s of every quit spent sleeping. This
driver restores the terminal the same way and tells the thread to stop, but does not wait
for it; the thread ends at its next poll, or with the process (`tierplay` ends with
`os._exit` right after). Suspending (ctrl+z) still waits, as Textual does.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import termios

from textual.driver import Driver


def quick_exit_driver() -> type[Driver] | None:
    """The driver on Linux; None elsewhere (Textual's own is used)."""
    if not sys.platform.startswith("linux"):
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class QuickExitDriver(LinuxDriver):
        _leaving = False

        def stop_application_mode(self) -> None:
            self._leaving = True
            super().stop_application_mode()

        def disable_input(self) -> None:
            if not self._leaving or self.exit_event.is_set():
                super().disable_input()
                return
            signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            self._disable_mouse_support()
            self.exit_event.set()  # the input thread stops at its next poll, unwaited
            with contextlib.suppress(termios.error):
                termios.tcflush(self.fileno, termios.TCIFLUSH)

    return QuickExitDriver
