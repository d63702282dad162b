"""Opening a library of 1,000 and 10,000 tagged files, and filtering it as you type.

Prints, per library size, each against a baseline measured in the same run:
- opening it, cold (an empty index: every file's header and tags read) and warm (the index
  filled by the cold open): seconds until the engine lists the tracks, and to first sound
  (position moving on a paced null sink), as ratios to `find DIR -type f` over the same
  tree (the least any player must do to know the files);
- the whole player (`TierplayApp` under Textual's pilot, 80x24) started on it: seconds
  until the library panel is complete, and the interval between the UI loop's ticks
  (a 60 Hz timer) while the scan runs, p50 and p99, against the same timer with no scan;
- the library filter at 10,000 tracks: keystroke to list redrawn, p50 and p99, against a
  keystroke into a plain text field of the same app.

The tracks are 0.2 s FLAC tones tagged with artist, album, title and track number, made
once in a temporary folder. The page cache is not dropped (that needs privileges):
"cold" here means unindexed, not unread from disk.

Run: .venv/bin/python -m bench.library [--sizes 1000,10000] [--keys 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from mediafile import MediaFile

ARTISTS = 40
ALBUMS_PER_ARTIST = 5
TONE_SECONDS = 0.2
RATE = 44_100
SIZE = (80, 24)
TICK_SECONDS = 1 / 60
FILTER_WORDS = ("artist 1", "album 3", "song 7")


def make_library(folder: Path, count: int) -> None:
    """`count` tagged FLAC files as artist/album/NN.flac."""
    t = np.arange(round(TONE_SECONDS * RATE)) / RATE
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for index in range(count):
        artist = index % ARTISTS
        album = (index // ARTISTS) % ALBUMS_PER_ARTIST
        number = index // (ARTISTS * ALBUMS_PER_ARTIST) + 1
        path = folder / f"artist {artist}" / f"album {album}" / f"{number:03d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone, RATE)
        tags = MediaFile(str(path))
        tags.artist, tags.album = f"Artist {artist}", f"Album {album} of artist {artist}"
        tags.title, tags.track = f"Song {index}", number
        tags.save()


def find_seconds(folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["find", str(folder), "-type", "f"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def engine_open(folder: Path, cache: Path) -> tuple[float, float, int]:
    """(seconds to the track list, seconds to first sound, tracks) for one open."""
    from engine import Engine, EngineConfig
    from engine.playback.sinks.output import NullSink

    with tempfile.TemporaryDirectory() as state:
        config = EngineConfig(state_dir=Path(state), cache_dir=cache)
        started = time.perf_counter()
        engine = Engine(config, sink=NullSink(RATE, 1024, speed=1.0))
        try:
            tracks = engine.open([folder])
            listed = time.perf_counter() - started
            engine.play()
            while engine.snapshot().position_seconds <= 0.0:
                time.sleep(0.005)
            return listed, time.perf_counter() - started, len(tracks)
        finally:
            engine.close()


async def app_open(folder: Path, cache: Path, scan: bool) -> tuple[float, list[float]]:
    """(seconds until the library panel lists every track, UI tick intervals meanwhile).
    Without `scan`, the app runs on an already open engine: the ticks' baseline."""
    from engine import Engine, EngineConfig
    from engine.playback.sinks.output import NullSink
    from tui.app import TierplayApp
    from tui.widgets.library import LibraryPanel

    with tempfile.TemporaryDirectory() as state:
        config = EngineConfig(state_dir=Path(state), cache_dir=cache)
        engine = Engine(config, sink=NullSink(RATE, 1024, speed=1.0))
        expected = len(list(folder.rglob("*.flac")))
        if not scan:
            engine.open([folder])
        app = TierplayApp(engine, autoplay=True, library=[folder] if scan else ())
        ticks: list[float] = []
        try:
            async with app.run_test(size=SIZE) as pilot:
                app.set_interval(TICK_SECONDS, lambda: ticks.append(time.perf_counter()))
                started = time.perf_counter()
                await pilot.press("l")
                panel = app.query_one(LibraryPanel)
                while len(panel.all_rows) < expected:
                    await asyncio.sleep(0.005)
                    if time.perf_counter() - started > 300:
                        raise RuntimeError("the library panel never filled")
                complete = time.perf_counter() - started
                if not scan:
                    await asyncio.sleep(2.0)
        finally:
            engine.close()
        return complete, list(np.diff(ticks) * 1000)


async def keystrokes(folder: Path, cache: Path, keys: int) -> tuple[list[float], list[float]]:
    """(ms from keystroke to the filtered list drawn, ms for a keystroke into a plain
    field): the same pilot, the same app, 10,000 tracks listed."""
    from textual.widgets import Input

    from engine import Engine, EngineConfig
    from engine.playback.sinks.output import NullSink
    from tui.app import TierplayApp
    from tui.screens.path_prompt import PathPrompt

    with tempfile.TemporaryDirectory() as state:
        config = EngineConfig(state_dir=Path(state), cache_dir=cache)
        engine = Engine(config, sink=NullSink(RATE, 1024, speed=1.0))
        engine.open([folder])
        app = TierplayApp(engine, autoplay=False)
        text = " ".join(FILTER_WORDS)
        filtered: list[float] = []
        plain: list[float] = []
        try:
            async with app.run_test(size=SIZE) as pilot:

                async def timed(key: str, into: list[float]) -> None:
                    started = time.perf_counter()
                    await pilot.press(key)
                    await pilot.pause()  # the redraw the key caused
                    into.append((time.perf_counter() - started) * 1000)

                await pilot.press("slash")
                for index in range(keys):
                    char = text[index % len(text)]
                    await timed("space" if char == " " else char, filtered)
                    if index % len(text) == len(text) - 1:
                        for _ in text:
                            await pilot.press("backspace")
                await pilot.press("escape")
                app.push_screen(PathPrompt("Open", "a plain text field"))
                await pilot.pause()
                assert isinstance(app.focused, Input)
                for index in range(keys):
                    char = text[index % len(text)]
                    await timed("space" if char == " " else char, plain)
        finally:
            engine.close()
        return filtered, plain


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(size: int, keys: int, report: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="tierplay-library-") as root:
        folder = Path(root) / "music"
        started = time.perf_counter()
        make_library(folder, size)
        report(f"... {size:,} files made in {time.perf_counter() - started:.0f} s")
        find = statistics.median(find_seconds(folder) for _ in range(3))
        cache = Path(root) / "cache"
        cold_list, cold_sound, count = engine_open(folder, cache)
        warm_list, warm_sound, _ = engine_open(folder, cache)
        app_cache = Path(root) / "app-cache"
        cold_panel, scan_ticks = asyncio.run(app_open(folder, app_cache, scan=True))
        warm_panel, _ = asyncio.run(app_open(folder, app_cache, scan=True))
        _, idle_ticks = asyncio.run(app_open(folder, app_cache, scan=False))
        print(f"\n{size:,} files ({count:,} tracks); find -type f: {find * 1000:.0f} ms")
        print("                         seconds   x find")
        rows = (
            ("cold: tracks listed", cold_list),
            ("cold: first sound", cold_sound),
            ("warm: tracks listed", warm_list),
            ("warm: first sound", warm_sound),
            ("app cold: panel complete", cold_panel),
            ("app warm: panel complete", warm_panel),
        )
        for label, seconds in rows:
            print(f"  {label:<24} {seconds:7.2f}  {seconds / find:7.1f}")
        ratio = pct(scan_ticks, 99) / pct(idle_ticks, 99)
        print(
            f"  UI tick interval while scanning (cold): p50 {pct(scan_ticks, 50):.1f} ms, "
            f"p99 {pct(scan_ticks, 99):.1f} ms; idle p50 {pct(idle_ticks, 50):.1f} ms, "
            f"p99 {pct(idle_ticks, 99):.1f} ms: p99 x{ratio:.2f}"
        )
        if size >= 10_000:
            filtered, plain = asyncio.run(keystrokes(folder, cache, keys))
            print(
                f"  filter keystroke to redraw: p50 {pct(filtered, 50):.1f} ms, "
                f"p99 {pct(filtered, 99):.1f} ms; plain field p50 {pct(plain, 50):.1f} ms, "
                f"p99 {pct(plain, 99):.1f} ms: p99 x{pct(filtered, 99) / pct(plain, 99):.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--keys", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("TIERPLAY_STATE_DIR", tempfile.mkdtemp(prefix="tierplay-state-"))
    os.environ.setdefault("TIERPLAY_CONFIG_DIR", tempfile.mkdtemp(prefix="tierplay-config-"))
    for size in (int(s) for s in args.sizes.split(",") if s):
        measure(size, args.keys, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
