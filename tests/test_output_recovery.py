"""A dead audio process or a lost device: detected, reported, recovered; the engine and
the music's clock go on."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Engine, EngineConfig
from engine.playback.sinks.audio_process import AudioProcessSink
from engine.playback.sinks.output import OUTPUT_EVENTS_KEPT, OutputEvents
from tests.helpers.polling import wait_for as poll_until

pytestmark = pytest.mark.jack


wait_for = partial(poll_until, timeout=15.0)


@pytest.fixture
def playing(jack_device: int, tone_library: Path) -> Iterator[tuple[Engine, AudioProcessSink]]:
    """An engine playing through the audio process on the JACK device."""
    engine = Engine(EngineConfig(), sink="sounddevice", device=jack_device)
    try:
        sink = engine.sink
        assert isinstance(sink, AudioProcessSink)
        engine.open([tone_library])
        engine.play()
        wait_for(lambda: engine.snapshot().position_seconds > 0.3)
        yield engine, sink
    finally:
        engine.close()


def test_a_killed_audio_process_is_restarted(playing: tuple[Engine, AudioProcessSink]) -> None:
    engine, sink = playing
    sink.kill_audio_process()
    wait_for(lambda: sink.restarts == 1)
    before = sink.ring.read_index
    wait_for(lambda: sink.ring.read_index > before + 44_100 // 4)  # it plays again
    wait_for(lambda: any("restarted" in m for m in engine.snapshot().messages))
    assert sink.using_device and not engine.snapshot().output_notice


def test_a_lost_device_falls_back_to_a_silent_clock_and_comes_back(
    playing: tuple[Engine, AudioProcessSink], jack_device: int
) -> None:
    engine, sink = playing
    sink.device = "no such device"  # the device is gone: reopening it fails
    sink.kill_audio_process()
    wait_for(lambda: not sink.using_device)
    notice = engine.snapshot().output_notice
    assert "audio device lost" in notice
    position = engine.snapshot().position_seconds
    wait_for(lambda: engine.snapshot().position_seconds > position + 0.5)  # clock goes on
    sink.device = jack_device  # the device returns
    wait_for(lambda: sink.using_device, timeout=20)
    assert not engine.snapshot().output_notice
    wait_for(lambda: any("is back" in m for m in engine.snapshot().messages))
    assert any("audio device lost" in m for m in engine.snapshot().messages)


@given(st.lists(st.lists(st.text(max_size=5), max_size=40), max_size=8))
def test_output_events_are_taken_once_in_order_and_bounded(batches: list[list[str]]) -> None:
    """Told on the sink's watcher thread, taken on the engine's: each incident is taken
    exactly once, oldest first, and only the latest OUTPUT_EVENTS_KEPT wait."""
    events = OutputEvents()
    for batch in batches:
        for event in batch:
            events.tell(event)
        assert events.take() == batch[-OUTPUT_EVENTS_KEPT:]
        assert events.take() == []
    for number in range(OUTPUT_EVENTS_KEPT + 5):
        events.tell(str(number))
    assert events.take() == [str(n) for n in range(5, OUTPUT_EVENTS_KEPT + 5)]
