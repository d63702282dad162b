"""A scripted listening session on the real engine, shared by the playback benchmarks.

It plays the sample library through the configured output with the Textual app on screen
(headless, refreshing at its own rates, in this process, as in real use), switching presets and
seeking on a schedule, and returns what the engine measured.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil

from engine import Engine, EngineConfig
from engine.playback.feed import ServedRequest
from engine.runtime import tune_runtime_for_audio
from tui.app import TierplayApp

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
SWITCH_PATTERN = ("warm", "bright", "warm", "bright", "punchy", "warm", "adaptive", "gentle")


@dataclass
class SessionResult:
    output: str
    block_seconds: float
    seconds: float
    switches: list[ServedRequest]
    seeks: list[ServedRequest]
    underruns: int
    lateness_p999_ms: float
    rss_samples_mb: list[float] = field(default_factory=list)
    budget_mb: float = 0.0
    asked_switches: int = 0
    """Preset commands made; a switch superseded before it was heard is not in `switches`."""


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """`--sink` and `--library`, as every session benchmark takes them."""
    parser.add_argument("--sink", default="auto")
    parser.add_argument(
        "--library", type=Path, default=SAMPLE_AUDIO, help="the music (default: the samples)"
    )


def fresh_model_config(state_dir: Path) -> EngineConfig:
    """The default settings with the state kept in `state_dir` (a new, empty folder): a
    model kept in the user's state folder would carry what earlier runs (and earlier code)
    learned, and a benchmark's figures would depend on that history."""
    return EngineConfig(state_dir=state_dir)


def open_engine(sink: str, config: EngineConfig, library: Path = SAMPLE_AUDIO) -> Engine:
    tune_runtime_for_audio()  # as `tierplay` does
    engine = Engine(config, sink=sink)
    engine.open([library])
    engine.set_preset("warm")
    engine.wait_until_prepared(60)  # as after a few seconds of listening
    return engine


async def _drive(
    engine: Engine,
    seconds: float,
    switches_per_minute: float,
    seek_every_seconds: float,
    on_tick: Callable[[], None],
    seed: int,
    pattern: tuple[str, ...],
    asked: list[str],
) -> None:
    rng = random.Random(seed)
    presets = itertools.cycle(pattern)
    app = TierplayApp(engine, autoplay=False)
    interval = 60.0 / switches_per_minute
    async with app.run_test() as pilot:
        engine.play()
        started = time.monotonic()
        next_seek = started + seek_every_seconds
        while time.monotonic() - started < seconds:
            await asyncio.sleep(interval * rng.uniform(0.6, 1.4))
            if not engine.snapshot().playing:
                engine.next_track()
                engine.play()
                continue
            asked.append(next(presets))
            engine.set_preset(asked[-1])
            if time.monotonic() >= next_seek:
                await asyncio.sleep(0.05)
                position = engine.snapshot().position_seconds
                engine.seek(max(0.0, position + rng.choice([-5.0, 5.0, 1.0, 30.0])))
                next_seek += seek_every_seconds
            on_tick()
        await pilot.pause()


def run_session(
    sink: str = "auto",
    seconds: float = 60.0,
    switches_per_minute: float = 120.0,
    seek_every_seconds: float = 5.0,
    seed: int = 7,
    pattern: tuple[str, ...] = SWITCH_PATTERN,
    presets_file: Path | None = None,
    library: Path = SAMPLE_AUDIO,
    render_slowdown: float = 1.0,
    budget_mb: float | None = None,
) -> SessionResult:
    """`pattern`: the presets switched to, in turn; `presets_file`: a listener's presets;
    `render_slowdown`: the slow-machine model's factor; `budget_mb`: `--budget-mb`."""
    state = tempfile.TemporaryDirectory(prefix="tierplay-session-")
    config = replace(
        fresh_model_config(Path(state.name)),
        presets_file=presets_file,
        render_slowdown=render_slowdown,
    )
    if budget_mb is not None:
        config = config.with_process_budget(budget_mb)
    process = psutil.Process()
    engine = open_engine(sink, config, library)
    rss: list[float] = []
    asked: list[str] = []

    def sample_rss() -> None:
        rss.append(process.memory_info().rss / 1e6)

    try:
        asyncio.run(
            _drive(
                engine,
                seconds,
                switches_per_minute,
                seek_every_seconds,
                sample_rss,
                seed,
                pattern,
                asked,
            )
        )
        engine.pause()
        time.sleep(0.3)
        return SessionResult(
            output=engine.sink.name + (f" ({engine.sink.notice})" if engine.sink.notice else ""),
            block_seconds=config.block_frames / engine.config.sample_rate,
            seconds=seconds,
            switches=[s for s in engine.switches() if s.source != "original"],
            seeks=engine.seeks(),
            underruns=engine.sink.ring.underruns,
            lateness_p999_ms=engine.sink.callback_lateness_ms(0.999),
            rss_samples_mb=rss,
            budget_mb=config.total_budget_mb,
            asked_switches=len(asked),
        )
    finally:
        engine.close()
        state.cleanup()
