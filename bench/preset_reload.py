"""Time from saving an edited preset file to hearing the new chain, while it plays.

The player plays the sample folder (or `--library DIR`) on the default output with a
listener's preset, `mine`, playing. Each round saves presets.toml with `mine`'s gain
changed and times, on the engine's clock: the save -> the edit taken (the file check and
the new chain's calibration on the playing track) -> the switch to it heard. The
baseline of the same run is an ordinary switch, to a built-in and back, timed from the
command to hearing it. Printed: p50 and p99 of each, and the save-to-heard time as a
ratio to the ordinary switch.

Run: .venv/bin/python -m bench.preset_reload [--rounds 20] [--library DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.session import add_output_options, fresh_model_config, open_engine
from engine import Engine
from engine.observe.stats import percentile
from engine.playback.feed import ServedRequest

PRESET = """[[preset]]
name = "mine"
eq = [{{ type = "peak", frequency_hz = 1000, gain_db = {gain:.1f}, q = 0.9 }}]
"""
TIMEOUT_SECONDS = 20.0


def save(path: Path, gain: float) -> float:
    """Write the file with a new modification time; returns when it was saved."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(PRESET.format(gain=gain))
    saved = time.monotonic()
    stamp = max(time.time_ns(), before + 1_000_000)
    os.utime(path, ns=(stamp, stamp))
    return saved


def heard_after(
    engine: Engine, count: int, matches: Callable[[ServedRequest], bool]
) -> ServedRequest:
    """The first switch after the first `count` that `matches`, once it is heard."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for record in engine.switches()[count:]:
            if matches(record) and record.latency_ms is not None:
                return record
        time.sleep(0.005)
    raise TimeoutError("the switch was never heard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    add_output_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierplay-reload-") as folder:
        presets = Path(folder) / "presets.toml"
        save(presets, 3.0)
        config = replace(fresh_model_config(Path(folder) / "state"), presets_file=presets)
        engine = open_engine(args.sink, config, args.library)
        try:
            engine.play()
            engine.set_preset("mine")
            heard_after(engine, 0, lambda r: r.target == "mine")
            to_heard, to_taken, switches = [], [], []
            for round_number in range(args.rounds):
                count = len(engine.switches())
                asked = time.monotonic()
                engine.set_preset("warm")
                warm = heard_after(engine, count, lambda r: r.target == "warm")
                switches.append(warm.asked_at + (warm.latency_ms or 0.0) / 1000 - asked)
                count = len(engine.switches())
                engine.set_preset("mine")
                heard_after(engine, count, lambda r: r.target == "mine")
                time.sleep(0.5)  # settled on the edited preset, as a listener tweaking it
                count = len(engine.switches())
                saved = save(presets, 3.0 + (round_number % 2 + 1) * 1.5)
                redefined = heard_after(engine, count, lambda r: r.source == r.target == "mine")
                to_taken.append(redefined.asked_at - saved)
                to_heard.append(redefined.asked_at + (redefined.latency_ms or 0.0) / 1000 - saved)
            output = engine.sink.name
            underruns = engine.sink.ring.underruns
        finally:
            engine.close()

    def row(name: str, values: list[float]) -> str:
        ms = [1000 * v for v in values]
        return f"{name:<34}{percentile(ms, 0.5):>8.0f}{percentile(ms, 0.99):>8.0f}"

    print(f"output: {output}; {args.rounds} edits on {args.library}")
    print(f"{'':<34}{'p50 ms':>8}{'p99 ms':>8}")
    print(row("ordinary switch (baseline)", switches))
    print(row("save -> edit taken (calibrated)", to_taken))
    print(row("save -> new chain heard", to_heard))
    ratio50 = percentile(to_heard, 0.5) / percentile(switches, 0.5)
    ratio99 = percentile(to_heard, 0.99) / percentile(switches, 0.99)
    print(f"save -> heard / ordinary switch: p50 {ratio50:.1f}x, p99 {ratio99:.1f}x")
    print(f"underruns: {underruns}")


if __name__ == "__main__":
    main()
