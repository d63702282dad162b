"""The CPU an idle folder watch costs: the library watch as the engine runs it, against
watchfiles' default 50 ms step with a 0.1 s Rust timeout, measured in the same run.

Each watches an empty temporary folder on a thread for `--seconds` while the main thread
sleeps; the process's CPU time over that span is the watch's. Also prints how long
stopping it took (quitting waits for it).

Run: .venv/bin/python -m bench.watch_idle [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import watchfiles

from engine.library.folder_watch import STEP_MS

DEFAULT_STEP_MS = 50
DEFAULT_RUST_TIMEOUT_MS = 100
"""The baseline: watchfiles' default step, and a timeout that returns to Python."""


def idle_watch(step_ms: int, rust_timeout_ms: int, seconds: float) -> tuple[float, float]:
    """(CPU ms per minute, ms to stop) of a watch on an empty folder."""
    with tempfile.TemporaryDirectory(prefix="tierplay-watch-") as folder:
        stop = threading.Event()

        def watch() -> None:
            for _batch in watchfiles.watch(
                folder,
                step=step_ms,
                stop_event=stop,
                rust_timeout=rust_timeout_ms,
                raise_interrupt=False,
            ):
                pass

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        time.sleep(1.0)  # past the watcher's start-up
        started = time.process_time()
        time.sleep(seconds)
        cpu = time.process_time() - started
        stopping = time.monotonic()
        stop.set()
        thread.join()
        return cpu * 1000 * 60 / seconds, (time.monotonic() - stopping) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{'watch':<34}{'CPU ms/min':>12}{'stop ms':>10}{'ratio':>8}")
    for _round in range(args.rounds):
        base_cpu, base_stop = idle_watch(DEFAULT_STEP_MS, DEFAULT_RUST_TIMEOUT_MS, args.seconds)
        cpu, stop = idle_watch(STEP_MS, 0, args.seconds)
        print(f"{'50 ms step, 0.1 s timeout':<34}{base_cpu:>12.1f}{base_stop:>10.0f}")
        ours = f"the engine ({STEP_MS} ms step)"
        print(f"{ours:<34}{cpu:>12.1f}{stop:>10.0f}{cpu / base_cpu:>8.2f}")


if __name__ == "__main__":
    main()
