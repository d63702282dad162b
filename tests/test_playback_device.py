"""Playback on a real, paced PortAudio device (the JACK dummy driver), through the audio
process: 20 s with 40 preset switches and 10 seeks while the worker renders and a Textual
app refreshes. Everything that left the callback is captured and checked."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from engine import Engine, EngineConfig
from engine.dsp.render import Renderer
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.playback.feed import ServedRequest
from tests.helpers.audio_files import SAMPLE_AUDIO
from tui.app import TierplayApp

pytestmark = pytest.mark.jack

RATE = 44_100
CROSSFADE_MS = 15.0
TRACK = SAMPLE_AUDIO / "01_neon_drive.flac"


def captured(engine: Engine) -> np.ndarray:
    sink = engine.sink
    assert sink.capture is not None
    return np.array(sink.capture)


def cuts(engine: Engine) -> list[ServedRequest]:
    return sorted(engine.switches() + engine.seeks(), key=lambda r: r.ring_index)


async def drive_session(engine: Engine) -> tuple[int, int]:
    """40 switches (every 0.5 s) and 10 seeks (every 2 s), with the app on screen."""
    app = TierplayApp(engine, autoplay=False)
    presets = itertools.cycle(["warm", "bright", "warm", "bright", "punchy", "warm", "adaptive"])
    switches = seeks = 0
    async with app.run_test() as pilot:
        engine.play()
        for step in range(40):
            await asyncio.sleep(0.5)
            engine.set_preset(next(presets))
            switches += 1
            if step % 4 == 3:
                await asyncio.sleep(0.05)
                position = engine.snapshot().position_seconds
                engine.seek(max(0.0, position + (-3.0 if step % 8 == 3 else 2.0)))
                seeks += 1
        await asyncio.sleep(0.5)
        await pilot.pause()
    return switches, seeks


async def test_switches_and_seeks_on_a_real_device(jack_device: int) -> None:
    config = EngineConfig(output_capture_seconds=30.0)
    engine = Engine(config, sink="sounddevice", device=jack_device)
    try:
        assert engine.sink.name == "system" and not engine.sink.notice
        engine.open([TRACK])
        engine.set_preset("warm")
        assert engine.wait_until_prepared(60)  # as after a few seconds of listening
        switches, seeks = await drive_session(engine)
        engine.pause()
        await asyncio.sleep(0.3)
        records = cuts(engine)
        audio = captured(engine)
        underruns = engine.sink.ring.underruns
    finally:
        engine.close()

    assert underruns == 0
    served = [r for r in records if r.kind == "switch" and r.source != "original"]
    assert len(served) >= switches - 2  # a switch superseded within a block is not heard
    hits = [r for r in served if r.tier in ("l1", "l2")]
    assert len(hits) >= switches // 2
    # Every switch was heard and timed; how soon is a figure of bench/switch_latency.py,
    # not an assertion here: it follows the machine's load.
    assert all(r.latency_ms is not None for r in served)
    assert len([r for r in records if r.kind == "seek"]) == seeks

    decoded = TrackSource(probe(TRACK, RATE), RATE)
    renderer = Renderer(EngineConfig(), engine.calibrations)  # the gains the engine used
    fade = round(CROSSFADE_MS * RATE / 1000)
    window = 2048
    checked = 0
    for previous, record, following in zip(
        [None, *records[:-1]], records, [*records[1:], None], strict=True
    ):
        if record.kind != "switch" or record.source == "original" or record.frame < RATE:
            continue
        if following is not None and following.ring_index < record.ring_index + fade + window:
            continue  # another cut too close to judge this one alone
        if previous is not None and previous.ring_index > record.ring_index - 2048 - fade:
            continue
        if record.frame + window + fade + RATE > decoded.frames:
            continue
        p, f = record.ring_index, record.frame
        new = renderer.render_range(decoded, record.target, 1.0, f - RATE, f + RATE)
        old = renderer.render_range(decoded, record.source, 1.0, f - RATE, f + RATE)
        heard = audio[p - RATE : p + window + fade]
        # Which switch, served from where, if it fails: the record says where to look.
        said = f"{record} (switch {checked + 1} checked, seeks in between: {seeks})"
        # Sample-aligned: after the crossfade, exactly the new render (int16 in L2: 1e-4).
        np.testing.assert_allclose(
            heard[RATE + fade :], new[RATE + fade : RATE + fade + window], atol=1e-4, err_msg=said
        )
        # Before the cut, exactly the old render.
        np.testing.assert_allclose(
            heard[RATE - 2048 : RATE], old[RATE - 2048 : RATE], atol=1e-4, err_msg=said
        )
        # No click: the biggest step near the switch is no bigger than either render's, but
        # for the fade's own slope (the two renders differ by at most |new - old| over it).
        near = heard[RATE - 220 : RATE + fade + 220]
        step_near = float(np.max(np.abs(np.diff(near, axis=0))))
        step_renders = max(
            float(np.max(np.abs(np.diff(new, axis=0)))),
            float(np.max(np.abs(np.diff(old, axis=0)))),
        )
        slope = float(np.max(np.abs(new[RATE : RATE + fade] - old[RATE : RATE + fade]))) / fade
        assert step_near <= step_renders + slope + 1e-4
        checked += 1
    assert checked >= 10
