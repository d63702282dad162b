"""The player as an MPRIS media player on the D-Bus session bus.

`org.mpris.MediaPlayer2` and `org.mpris.MediaPlayer2.Player` at /org/mpris/MediaPlayer2,
served by dbus-fast on the app's own asyncio loop (as the HTTP API is): media keys, desktop
widgets and `playerctl` drive the engine through the same commands as the keys. What the
player is doing is read from the snapshots the app already takes; `refresh` announces what
changed with PropertiesChanged, and a playhead that jumped with Seeked. Bad calls (an
unknown track id, a position past the end, a volume outside 0 to 1) get D-Bus errors.

No `from __future__ import annotations` here: dbus-fast reads the D-Bus types from the
annotations, and a postponed `-> None` reads as a signature of None.
"""

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from dbus_fast import BusType, DBusError, ErrorType, PropertyAccess, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusDict,
    DBusDouble,
    DBusInt64,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from engine.observe.snapshot import EngineSnapshot
from engine.playback.controls import PlaybackControls

BUS_NAME = "org.mpris.MediaPlayer2.tierplay"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
ROOT_INTERFACE = "org.mpris.MediaPlayer2"
PLAYER_INTERFACE = "org.mpris.MediaPlayer2.Player"
TRACK_PATH = "/org/tierplay/track/"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
LOOP_STATUS = {"off": "None", "one": "Track", "all": "Playlist"}
"""The queue's repeat modes as MPRIS names them."""
REPEAT = {loop: repeat for repeat, loop in LOOP_STATUS.items()}
SEEK_JUMP_SECONDS = 0.5
"""A playhead that moved this much further (or back) than the clock did was seeked."""
MICROSECONDS = 1_000_000
CONNECT_SECONDS = 2.0
"""A session bus that has not answered by then is taken as absent (the app waits for it)."""
DBusStringList = Annotated[list[str], DBusSignature("as")]
Playhead = tuple[float, float, bool, str]
"""(clock, position, playing, track path) at a refresh."""
MIME_TYPES = (
    "audio/flac",
    "audio/ogg",
    "audio/opus",
    "audio/mpeg",
    "audio/wav",
    "audio/x-wav",
    "audio/aiff",
    "audio/x-aiff",
)
"""What the player reads (libsndfile's formats)."""


class MprisEngine(PlaybackControls, Protocol):
    """What MPRIS needs of `engine.Engine`."""

    def set_repeat(self, mode: str) -> None: ...
    def set_shuffle(self, on: bool, seed: int | None = None) -> None: ...
    def snapshot(self) -> EngineSnapshot: ...


def track_path(snapshot: EngineSnapshot) -> str:
    """The playing track's MPRIS id (an object path), or MPRIS's no-track path."""
    return TRACK_PATH + snapshot.track.id if snapshot.track is not None else NO_TRACK


def track_metadata(snapshot: EngineSnapshot) -> dict[str, Variant]:
    """The playing track as MPRIS metadata (xesam names, lengths in microseconds)."""
    track = snapshot.track
    if track is None:
        return {"mpris:trackid": Variant("o", NO_TRACK)}
    found: dict[str, Variant] = {
        "mpris:trackid": Variant("o", track_path(snapshot)),
        "mpris:length": Variant("x", round(track.duration_seconds * MICROSECONDS)),
        "xesam:title": Variant("s", track.title),
        "xesam:url": Variant("s", track.path.absolute().as_uri()),  # no file system call
    }
    artist = track.tags.artist or track.artist
    if artist:
        found["xesam:artist"] = Variant("as", [artist])
    if track.tags.album:
        found["xesam:album"] = Variant("s", track.tags.album)
    if track.tags.album_artist:
        found["xesam:albumArtist"] = Variant("as", [track.tags.album_artist])
    if track.tags.track_number is not None:
        found["xesam:trackNumber"] = Variant("i", track.tags.track_number)
    return found


def invalid(message: str) -> DBusError:
    return DBusError(ErrorType.INVALID_ARGS, message)


class PlayerInterface(ServiceInterface):
    """org.mpris.MediaPlayer2.Player over an engine. `announced` is what `refresh` last
    told the bus (property name to value), so only changes are sent."""

    def __init__(self, engine: MprisEngine) -> None:
        super().__init__(PLAYER_INTERFACE)
        self.engine = engine
        self.stopped = False
        """Stop was asked for and nothing has played since: MPRIS's Stopped state."""
        self.announced: dict[str, Any] = {}
        self._playhead: Playhead | None = None
        """(clock, position, playing, track path) at the last refresh: a seek's yardstick."""

    # -- what the bus is told --------------------------------------------------------------
    def properties(self, snapshot: EngineSnapshot) -> dict[str, Any]:
        """The announced properties' values now (Position is read, never announced)."""
        has_track = snapshot.track is not None
        return {
            "PlaybackStatus": self.status(snapshot),
            "LoopStatus": LOOP_STATUS.get(snapshot.repeat, "None"),
            "Shuffle": snapshot.shuffle,
            "Metadata": track_metadata(snapshot),
            "Volume": round(snapshot.volume, 4),
            "CanGoNext": snapshot.track_count > 0,
            "CanGoPrevious": snapshot.track_count > 0,
            "CanPlay": has_track,
            "CanPause": has_track,
            "CanSeek": has_track,
        }

    def status(self, snapshot: EngineSnapshot) -> str:
        if snapshot.playing:
            self.stopped = False
            return "Playing"
        return "Stopped" if self.stopped or snapshot.track is None else "Paused"

    def refresh(self, snapshot: EngineSnapshot, now: float) -> None:
        """Announce the properties that changed since the last refresh, and a seek."""
        current = self.properties(snapshot)
        changed = {
            name: value for name, value in current.items() if self.announced.get(name) != value
        }
        if changed:
            self.announced = current
            self.emit_properties_changed(changed)
        playhead = (now, snapshot.position_seconds, snapshot.playing, track_path(snapshot))
        if self._playhead is not None and self._seeked(self._playhead, playhead):
            self.seeked(round(snapshot.position_seconds * MICROSECONDS))
        self._playhead = playhead

    @staticmethod
    def _seeked(before: Playhead, now: Playhead) -> bool:
        """The same track's playhead moved otherwise than the clock did."""
        then, position, playing, track = before
        at, new_position, _playing, new_track = now
        if track != new_track:
            return False  # a new track is announced by its Metadata
        expected = position + (at - then if playing else 0.0)
        return abs(new_position - expected) > SEEK_JUMP_SECONDS

    @dbus_signal(name="Seeked")
    def seeked(self, position: DBusInt64) -> DBusInt64:
        return position

    # -- methods ---------------------------------------------------------------------------
    @dbus_method(name="Play")
    def play(self) -> None:
        self.stopped = False
        self.engine.play()

    @dbus_method(name="Pause")
    def pause(self) -> None:
        self.engine.pause()

    @dbus_method(name="PlayPause")
    def play_pause(self) -> None:
        if self.engine.snapshot().playing:
            self.engine.pause()
        else:
            self.play()

    @dbus_method(name="Stop")
    def stop(self) -> None:
        """Pause at the track's start: Play starts it again from the beginning."""
        self.engine.pause()
        self.engine.seek(0.0)
        self.stopped = True

    @dbus_method(name="Next")
    def next(self) -> None:
        self.engine.next_track()

    @dbus_method(name="Previous")
    def previous(self) -> None:
        self.engine.prev_track()

    @dbus_method(name="Seek")
    def seek(self, offset: DBusInt64) -> None:
        """Relative, in microseconds; past the end plays the next track (as the keys do)."""
        self.engine.seek_relative(offset / MICROSECONDS)

    @dbus_method(name="SetPosition")
    def set_position(self, track_id: DBusObjectPath, position: DBusInt64) -> None:
        snapshot = self.engine.snapshot()
        if snapshot.track is None or track_id != track_path(snapshot):
            raise invalid(f"{track_id} is not the track playing ({track_path(snapshot)})")
        seconds = position / MICROSECONDS
        if not 0.0 <= seconds <= snapshot.track.duration_seconds:
            raise invalid(
                f"position {seconds:.3f} s is outside the track "
                f"(0 to {snapshot.track.duration_seconds:.3f} s)"
            )
        self.engine.seek(seconds)

    @dbus_method(name="OpenUri")
    def open_uri(self, uri: DBusStr) -> None:
        raise DBusError(ErrorType.NOT_SUPPORTED, f"{uri}: opening a URI is not supported")

    # -- properties ------------------------------------------------------------------------
    @dbus_property(access=PropertyAccess.READ, name="PlaybackStatus")
    def playback_status(self) -> DBusStr:
        return self.status(self.engine.snapshot())

    @dbus_property(name="LoopStatus")
    def loop_status(self) -> DBusStr:
        return LOOP_STATUS.get(self.engine.snapshot().repeat, "None")

    @loop_status.setter
    def loop_status_setter(self, value: DBusStr) -> None:
        if value not in REPEAT:
            raise invalid(f"LoopStatus {value!r} is not one of None, Track, Playlist")
        self.engine.set_repeat(REPEAT[value])

    @dbus_property(name="Shuffle")
    def shuffle(self) -> DBusBool:
        return self.engine.snapshot().shuffle

    @shuffle.setter
    def shuffle_setter(self, value: DBusBool) -> None:
        self.engine.set_shuffle(bool(value))

    @dbus_property(access=PropertyAccess.READ, name="Metadata")
    def metadata(self) -> DBusDict:
        return track_metadata(self.engine.snapshot())

    @dbus_property(name="Volume")
    def volume(self) -> DBusDouble:
        return round(self.engine.snapshot().volume, 4)

    @volume.setter
    def volume_setter(self, value: DBusDouble) -> None:
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise invalid(f"Volume {value} is outside 0 to 1")
        self.engine.set_volume(value)

    @dbus_property(access=PropertyAccess.READ, name="Position")
    def position(self) -> DBusInt64:
        return round(self.engine.snapshot().position_seconds * MICROSECONDS)

    @dbus_property(name="Rate")
    def rate(self) -> DBusDouble:
        return 1.0

    @rate.setter
    def rate_setter(self, value: DBusDouble) -> None:
        if value != 1.0:
            raise invalid("the player plays at rate 1.0 only")

    @dbus_property(access=PropertyAccess.READ, name="MinimumRate")
    def minimum_rate(self) -> DBusDouble:
        return 1.0

    @dbus_property(access=PropertyAccess.READ, name="MaximumRate")
    def maximum_rate(self) -> DBusDouble:
        return 1.0

    @dbus_property(access=PropertyAccess.READ, name="CanGoNext")
    def can_go_next(self) -> DBusBool:
        return self.engine.snapshot().track_count > 0

    @dbus_property(access=PropertyAccess.READ, name="CanGoPrevious")
    def can_go_previous(self) -> DBusBool:
        return self.engine.snapshot().track_count > 0

    @dbus_property(access=PropertyAccess.READ, name="CanPlay")
    def can_play(self) -> DBusBool:
        return self.engine.snapshot().track is not None

    @dbus_property(access=PropertyAccess.READ, name="CanPause")
    def can_pause(self) -> DBusBool:
        return self.engine.snapshot().track is not None

    @dbus_property(access=PropertyAccess.READ, name="CanSeek")
    def can_seek(self) -> DBusBool:
        return self.engine.snapshot().track is not None

    @dbus_property(access=PropertyAccess.READ, name="CanControl")
    def can_control(self) -> DBusBool:
        return True


class RootInterface(ServiceInterface):
    """org.mpris.MediaPlayer2: who the player is; Quit ends it (`on_quit`)."""

    def __init__(self, on_quit: Callable[[], None]) -> None:
        super().__init__(ROOT_INTERFACE)
        self._on_quit = on_quit

    @dbus_method(name="Raise")
    def raise_window(self) -> None:
        """A terminal player has no window of its own to raise (CanRaise is false)."""

    @dbus_method(name="Quit")
    def quit(self) -> None:
        self._on_quit()

    @dbus_property(access=PropertyAccess.READ, name="CanQuit")
    def can_quit(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ, name="CanRaise")
    def can_raise(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ, name="HasTrackList")
    def has_track_list(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ, name="Identity")
    def identity(self) -> DBusStr:
        return "Tierplay"

    @dbus_property(access=PropertyAccess.READ, name="SupportedUriSchemes")
    def supported_uri_schemes(self) -> DBusStringList:
        return ["file"]

    @dbus_property(access=PropertyAccess.READ, name="SupportedMimeTypes")
    def supported_mime_types(self) -> DBusStringList:
        return list(MIME_TYPES)


class MprisServer:
    """The two interfaces on the session bus, from `start` (on the app's loop) to `stop`."""

    def __init__(self, engine: MprisEngine, on_quit: Callable[[], None]) -> None:
        self.engine = engine
        self.player = PlayerInterface(engine)
        self.root = RootInterface(on_quit)
        self.bus: MessageBus | None = None
        self.name = ""

    async def start(self) -> str:
        """Connect and take the name; returns the line for the event log. Without a
        session bus (or if it refuses), the player goes on without MPRIS and says why."""
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return "no D-Bus session bus: media keys and desktop widgets are off"
        try:
            connecting = MessageBus(bus_type=BusType.SESSION).connect()
            bus = await asyncio.wait_for(connecting, CONNECT_SECONDS)
        except TimeoutError:
            return "the D-Bus session bus did not answer: media keys are off"
        except (OSError, ValueError, DBusError) as error:
            return f"the D-Bus session bus refused a connection ({error}): media keys are off"
        bus.export(OBJECT_PATH, self.root)
        bus.export(OBJECT_PATH, self.player)
        name = BUS_NAME
        if not await self._request(bus, name):
            name = f"{BUS_NAME}.instance{os.getpid()}"  # another Tierplay has the name
            if not await self._request(bus, name):
                bus.disconnect()
                return f"the D-Bus name {BUS_NAME} is not available: media keys are off"
        self.bus, self.name = bus, name
        self.refresh(self.engine.snapshot())
        return f"media keys and desktop widgets: MPRIS as {name}"

    @staticmethod
    async def _request(bus: MessageBus, name: str) -> bool:
        from dbus_fast import RequestNameReply

        reply = await bus.request_name(name)
        return reply in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER)

    def refresh(self, snapshot: EngineSnapshot, now: float | None = None) -> None:
        """Announce what changed (the app calls this with each transport snapshot)."""
        if self.bus is not None and self.bus.connected:
            self.player.refresh(snapshot, time.monotonic() if now is None else now)

    async def stop(self) -> None:
        if self.bus is not None:
            bus, self.bus = self.bus, None
            bus.disconnect()
            with contextlib.suppress(Exception):  # a bus already gone is gone
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
