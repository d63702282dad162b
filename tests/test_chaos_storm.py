"""8 threads issue 10,000 random commands to a playing engine (switch, seek, intensity,
clear, next and previous track, a library file deleted) while a checker reads snapshots and
tier sizes: no deadlock, no budget exceeded, no inconsistent snapshot, nothing escapes; and
each deleted track is reported or never heard again (next_track skips it, no render of it
is served once the engine found it gone)."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import ChaosRig
from bench.storm import run_storm

STUCK_COMMAND_SECONDS = 10.0
"""Far above the slowest command measured here (under 1 s on 2 busy cores): only a deadlock
or a lost wake-up waits this long."""


def test_eight_threads_of_random_commands(tmp_path: Path) -> None:
    rig = ChaosRig(tmp_path, speed=4.0)
    try:
        rig.engine.wait_until_prepared(60)
        doomed = sorted(rig.library.iterdir())[1:3]
        result = run_storm(rig.engine, threads=8, operations=10_000, delete=doomed)
        assert result.stuck_threads == 0, "a command thread never finished: deadlock"
        assert result.operations == 10_000
        assert result.slowest_command_seconds < STUCK_COMMAND_SECONDS
        assert result.errors == []
        assert result.over_budget == []
        assert result.inconsistent == []
        assert result.snapshots_checked > 10
        assert not any(path.exists() for path in doomed)
        assert result.deleted == len(doomed)
        assert result.deleted_problems == [], rig.engine.snapshot().messages[-12:]
        # Afterwards the engine still answers and plays its first (undeleted) track.
        for _ in range(rig.engine.snapshot().track_index):
            rig.engine.prev_track()
        rig.engine.seek(0.0)
        rig.engine.set_preset("warm")
        rig.engine.play()
        assert rig.engine.health()["status"] in ("healthy", "warning", "critical")
        assert rig.playing_on()
    finally:
        rig.close()
