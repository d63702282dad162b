"""MPRIS on a real D-Bus session bus: a private `dbus-daemon --session` started here, the
player served on it, and a D-Bus client (dbus-fast, and `playerctl` where the machine has
it) driving the player and reading what it announces."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus, ProxyInterface

from bench.session_bus import start_session_bus, stop_session_bus
from desktop.mpris import BUS_NAME, MICROSECONDS, OBJECT_PATH, PLAYER_INTERFACE, MprisServer
from engine import Engine, EngineConfig
from tui.app import TierplayApp

TIMEOUT = 30.0


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A session bus of the test's own; its address in DBUS_SESSION_BUS_ADDRESS."""
    if shutil.which("dbus-daemon") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the MPRIS tests: install dbus-daemon (`make test` does)")
        pytest.skip("no dbus-daemon on this machine")
    daemon, address = start_session_bus(tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield address
    stop_session_bus(daemon)


@pytest.fixture
def engine(tmp_path: Path, tone_library: Path) -> Iterator[Engine]:
    engine = Engine(EngineConfig(state_dir=tmp_path / "state"), sink="null")
    engine.open([tone_library])
    yield engine
    engine.close()


@pytest.fixture
async def served(engine: Engine, session_bus: str) -> AsyncIterator[MprisServer]:
    quits: list[bool] = []
    server = MprisServer(engine, lambda: quits.append(True))
    said = await server.start()
    assert said == f"media keys and desktop widgets: MPRIS as {BUS_NAME}"
    server.quits = quits  # type: ignore[attr-defined]
    yield server
    await server.stop()


@pytest.fixture
async def client(session_bus: str) -> AsyncIterator[MessageBus]:
    bus = await MessageBus(bus_address=session_bus).connect()
    yield bus
    bus.disconnect()


async def interface(bus: MessageBus, name: str = PLAYER_INTERFACE) -> ProxyInterface:
    introspection = await bus.introspect(BUS_NAME, OBJECT_PATH)
    return bus.get_proxy_object(BUS_NAME, OBJECT_PATH, introspection).get_interface(name)


async def playing_track_id(player: Any, engine: Engine) -> str:
    """The MPRIS id the player gives the track the engine plays."""
    assert engine.snapshot().track is not None
    metadata = await player.get_metadata()
    track_id: str = metadata["mpris:trackid"].value
    return track_id


async def eventually(condition: Any, timeout: float = TIMEOUT) -> None:
    """Until `condition()` holds, letting the loop (the server's too) run meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_play_pause_stop_next_and_previous_drive_the_engine(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    player: Any = await interface(client)
    await player.call_play_pause()
    await eventually(lambda: engine.snapshot().playing)
    assert await player.get_playback_status() == "Playing"
    await player.call_pause()
    await eventually(lambda: not engine.snapshot().playing)
    assert await player.get_playback_status() == "Paused"
    await player.call_play()
    await eventually(lambda: engine.snapshot().playing)
    first = engine.snapshot().track_index
    await player.call_next()
    await eventually(lambda: engine.snapshot().track_index == first + 1)
    await player.call_previous()
    await eventually(lambda: engine.snapshot().track_index == first)
    await player.call_stop()
    await eventually(lambda: not engine.snapshot().playing)
    assert await player.get_playback_status() == "Stopped"
    await eventually(lambda: engine.snapshot().position_seconds < 0.1)


async def test_seek_and_set_position_move_the_playhead(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    player: Any = await interface(client)
    track_id = await playing_track_id(player, engine)
    await player.call_set_position(track_id, 2 * MICROSECONDS)
    await eventually(lambda: abs(engine.snapshot().position_seconds - 2.0) < 0.05)
    await player.call_seek(MICROSECONDS // 2)
    await eventually(lambda: abs(engine.snapshot().position_seconds - 2.5) < 0.05)
    assert abs(await player.get_position() - 2.5 * MICROSECONDS) < 0.05 * MICROSECONDS


async def test_bad_calls_get_dbus_errors_and_change_nothing(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    player: Any = await interface(client)
    track_id = await playing_track_id(player, engine)
    track = engine.snapshot().track
    assert track is not None
    calls = [
        player.call_set_position("/org/tierplay/track/nosuchtrack", 0),
        player.call_set_position(track_id, round((track.duration_seconds + 1) * MICROSECONDS)),
        player.call_set_position(track_id, -MICROSECONDS),
        player.set_volume(1.5),
        player.set_volume(-0.1),
        player.set_loop_status("Sometimes"),
        player.set_rate(2.0),
        player.call_open_uri("file:///music.flac"),
    ]
    for call in calls:
        with pytest.raises(DBusError) as raised:
            await call
        assert raised.value.text  # the reason travels with the error
    snapshot = engine.snapshot()
    assert snapshot.position_seconds == 0.0 and snapshot.volume == 1.0
    assert snapshot.repeat == "off"


async def test_volume_loop_status_and_shuffle_are_written_through(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    player: Any = await interface(client)
    await player.set_volume(0.5)
    await player.set_loop_status("Track")
    await player.set_shuffle(True)
    snapshot = engine.snapshot()
    assert snapshot.volume == 0.5 and snapshot.repeat == "one" and snapshot.shuffle
    assert await player.get_loop_status() == "Track"
    await player.set_loop_status("Playlist")
    assert engine.snapshot().repeat == "all"


async def test_metadata_names_the_track(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    player: Any = await interface(client)
    track = engine.snapshot().track
    assert track is not None
    assert await playing_track_id(player, engine) == f"/org/tierplay/track/{track.id}"
    metadata = await player.get_metadata()
    assert metadata["xesam:title"].value == track.title
    assert metadata["mpris:length"].value == round(track.duration_seconds * MICROSECONDS)
    assert metadata["xesam:url"].value == track.path.absolute().as_uri()
    root: Any = await interface(client, "org.mpris.MediaPlayer2")
    assert await root.get_identity() == "Tierplay"
    assert await root.get_can_quit() and not await root.get_can_raise()


async def test_changes_are_announced_and_a_seek_is_signalled(
    served: MprisServer, client: MessageBus, engine: Engine
) -> None:
    introspection = await client.introspect(BUS_NAME, OBJECT_PATH)
    proxy = client.get_proxy_object(BUS_NAME, OBJECT_PATH, introspection)
    properties: Any = proxy.get_interface("org.freedesktop.DBus.Properties")
    player: Any = proxy.get_interface(PLAYER_INTERFACE)
    changes: list[dict[str, Variant]] = []
    seeks: list[int] = []
    properties.on_properties_changed(lambda _name, changed, _gone: changes.append(changed))
    player.on_seeked(seeks.append)

    engine.play()
    await eventually(lambda: engine.snapshot().playing)
    served.refresh(engine.snapshot())
    await eventually(lambda: any("PlaybackStatus" in change for change in changes))
    status = [c["PlaybackStatus"].value for c in changes if "PlaybackStatus" in c]
    assert status[-1] == "Playing"

    before = len(changes)
    served.refresh(engine.snapshot())
    await asyncio.sleep(0.1)
    assert len(changes) == before  # nothing changed, nothing announced

    engine.seek(2.0)  # the tones last 3 s
    await eventually(lambda: engine.snapshot().position_seconds >= 2.0)
    served.refresh(engine.snapshot())
    await eventually(lambda: len(seeks) == 1)
    assert abs(seeks[0] - 2.0 * MICROSECONDS) < 0.2 * MICROSECONDS

    first = engine.snapshot().track_index
    engine.next_track()
    await eventually(lambda: engine.snapshot().track_index == first + 1)
    served.refresh(engine.snapshot())
    await eventually(lambda: "Metadata" in changes[-1])
    assert len(seeks) == 1  # a new track is not a seek


async def test_quit_asks_the_player_to_end(served: MprisServer, client: MessageBus) -> None:
    root: Any = await interface(client, "org.mpris.MediaPlayer2")
    await root.call_quit()
    assert served.quits == [True]  # type: ignore[attr-defined]


async def test_a_second_player_takes_an_instance_name(
    served: MprisServer, engine: Engine, session_bus: str
) -> None:
    second = MprisServer(engine, lambda: None)
    said = await second.start()
    try:
        assert said == f"media keys and desktop widgets: MPRIS as {BUS_NAME}.instance{os.getpid()}"
    finally:
        await second.stop()


async def test_without_a_session_bus_it_says_so_and_stays_silent(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    server = MprisServer(engine, lambda: None)
    assert await server.start() == "no D-Bus session bus: media keys and desktop widgets are off"
    server.refresh(engine.snapshot())  # nothing to announce to, no error
    await server.stop()


async def test_the_app_serves_mpris_and_logs_where(
    engine: Engine, session_bus: str, client: MessageBus
) -> None:
    app = TierplayApp(engine, autoplay=False, mpris=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        player: Any = await interface(client)
        await player.call_play_pause()
        await eventually(lambda: engine.snapshot().playing)
        await eventually(
            lambda: (
                app.mpris is not None
                and app.mpris.player.announced.get("PlaybackStatus") == "Playing"
            )
        )
        assert any("MPRIS as" in message for message in engine.snapshot().messages)
        if shutil.which("playerctl"):  # the loop must go on serving while it asks
            playerctl = await asyncio.create_subprocess_exec(
                "playerctl", "--player=tierplay", "pause"
            )
            assert await asyncio.wait_for(playerctl.wait(), TIMEOUT) == 0
            await eventually(lambda: not engine.snapshot().playing)
