"""Decoding: speed per format, and the cost of a seek into the middle of an hour.

- speed: real music (a corpus track, or the first file of `--library`) encoded in every
  format a library holds, read whole through the engine's reader in the 2 s blocks the
  source cache asks for, as a real-time factor; with, measured in the same run on the same
  file, FFmpeg decoding it to nothing (what `ffmpeg -f null` does, through PyAV: the cost
  of the decoder alone) and libsndfile where it reads the file, and our ratio to each;
- seek: a 60-minute file in each format (made once, kept in the cache folder), opened
  afresh and read 12 s from its middle (a render window after a seek, or a resumed
  session), then 12 s a minute further on with the same reader; as milliseconds and as a
  ratio to the same 12 s read from the file's start.
- corpus: each file of `--library` read whole through the engine's reader, and through
  libsndfile where it reads it.

Run: .venv/bin/python -m bench.decode [--library ~/.cache/tierplay/corpus] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf
from platformdirs import user_cache_dir

from bench.formats import FORMATS, SOURCE_RATE, Format, at_rate, encode, encode_blocks
from engine.library.decoders import AUDIO_EXTENSIONS, DecodeError, open_reader

BLOCK_SECONDS = 2.0
WINDOW_SECONDS = 12.0
HOUR_SECONDS = 3600.0
SPEED_SECONDS = 180.0
REPEATS = 3


def music(library: Path | None) -> npt.NDArray[np.float32]:
    """Stereo 44.1 kHz music to encode: the library's first track, or a generated mix."""
    files = (
        sorted(p for p in library.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        if library
        else []
    )
    for path in files:
        with open_reader(path) as reader:
            if reader.info.samplerate == SOURCE_RATE and reader.info.channels == 2:
                audio = reader.read(0, round(SPEED_SECONDS * SOURCE_RATE))
                print(f"music: {path.name}, {audio.shape[0] / SOURCE_RATE:.0f} s")
                return audio
    print("music: generated tones and noise (no --library)")
    seconds = np.arange(round(SPEED_SECONDS * SOURCE_RATE)) / SOURCE_RATE
    rng = np.random.default_rng(0)
    tone = 0.2 * np.sin(2 * np.pi * 220 * seconds * (1 + 0.01 * np.sin(seconds)))
    left = tone + 0.05 * rng.standard_normal(seconds.size)
    return np.stack([left, 0.8 * tone], axis=1).astype(np.float32)


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)


def best_of(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def read_in_blocks(path: Path) -> int:
    """The whole file through the engine's reader, block by block; frames read."""
    with open_reader(path) as reader:
        block = round(BLOCK_SECONDS * reader.info.samplerate)
        done = 0
        while True:
            got = int(reader.read(done, block).shape[0])
            done += got
            if got < block:
                return done


def ffmpeg_to_nothing(path: Path) -> None:
    """Decode every frame and drop it: FFmpeg's decoder alone (`ffmpeg -f null`)."""
    with av.open(str(path)) as container:
        for _frame in container.decode(container.streams.audio[0]):
            pass


def libsndfile_whole(path: Path) -> bool:
    """The whole file through libsndfile in blocks; False where it does not read it."""
    try:
        with sf.SoundFile(path) as handle:
            for _block in handle.blocks(round(BLOCK_SECONDS * handle.samplerate), dtype="float32"):
                pass
        return True
    except (sf.LibsndfileError, RuntimeError):
        return False


def speed(audio: npt.NDArray[np.float32], folder: Path) -> None:
    print(
        f"\n== decode speed: {audio.shape[0] / SOURCE_RATE:.0f} s of music, whole file read in "
        f"{BLOCK_SECONDS:g} s blocks, best of {REPEATS}"
    )
    print(
        f"{'format':10} {'reader':>9} {'ours RTF':>9} {'ffmpeg RTF':>11} {'ours/ffmpeg':>12} "
        f"{'libsndfile RTF':>15} {'ours/libsndfile':>16}"
    )
    for kind in FORMATS:
        path = encode(folder / f"speed-{kind.name}{kind.suffix}", at_rate(audio, kind.rate), kind)
        seconds = audio.shape[0] / SOURCE_RATE
        with open_reader(path) as reader:
            decoder = type(reader).__name__.removesuffix("Reader").lower()
        ours = seconds / best_of(partial(read_in_blocks, path))
        raw = seconds / best_of(partial(ffmpeg_to_nothing, path))
        libsndfile = libsndfile_whole(path)
        plain = seconds / best_of(partial(libsndfile_whole, path)) if libsndfile else None
        versus = f"{plain:15.0f} {ours / plain:16.2f}" if plain else f"{'-':>15} {'-':>16}"
        print(f"{kind.name:10} {decoder:>9} {ours:9.0f} {raw:11.0f} {ours / raw:12.2f} {versus}")


def hour_blocks(audio: npt.NDArray[np.float32], rate: int) -> Iterator[npt.NDArray[np.float32]]:
    """An hour of the music at `rate`, looped, in 4096-frame blocks."""
    looped = at_rate(audio, rate)
    total = round(HOUR_SECONDS * rate)
    pieces = itertools.cycle(range(0, looped.shape[0], 4096))
    done = 0
    for start in pieces:
        block = looped[start : start + 4096][: total - done]
        if block.shape[0] == 0:
            return
        yield block
        done += block.shape[0]


def hour_file(audio: npt.NDArray[np.float32], kind: Format, folder: Path) -> Path:
    path = folder / f"hour-{kind.name}{kind.suffix}"
    if not path.exists():
        partial = path.with_name(f"partial-{path.name}")
        started = time.perf_counter()
        encode_blocks(partial, hour_blocks(audio, kind.rate), kind)
        partial.rename(path)
        print(f"  (made {path.name} in {time.perf_counter() - started:.0f} s, kept for next time)")
    return path


def window_ms(
    path: Path, at_seconds: float, then_seconds: float | None = None
) -> tuple[float, float]:
    """Milliseconds to open the file and read 12 s at `at_seconds`; and, with the same
    reader, 12 s at `then_seconds` (0 when None)."""
    started = time.perf_counter()
    with open_reader(path) as reader:
        rate = reader.info.samplerate
        count = round(WINDOW_SECONDS * rate)
        reader.read(round(at_seconds * rate), count)
        first = time.perf_counter() - started
        if then_seconds is None:
            return 1000 * first, 0.0
        again = time.perf_counter()
        reader.read(round(then_seconds * rate), count)
        return 1000 * first, 1000 * (time.perf_counter() - again)


def seek_cost(audio: npt.NDArray[np.float32], folder: Path, kinds: tuple[Format, ...]) -> None:
    print(
        f"\n== seek cost: {WINDOW_SECONDS:g} s from the middle of a 60-minute file, fresh reader "
        f"(median of {REPEATS})"
    )
    print(
        f"{'format':10} {'from start ms':>14} {'at 30:00 ms':>12} {'ratio':>6} "
        f"{'then 31:00 ms':>14} {'ratio':>6}"
    )
    for kind in kinds:
        path = hour_file(audio, kind, folder)
        start = statistics.median(window_ms(path, 0.0)[0] for _ in range(REPEATS))
        runs = [window_ms(path, 1800.0, 1860.0) for _ in range(REPEATS)]
        middle = statistics.median(run[0] for run in runs)
        then = statistics.median(run[1] for run in runs)
        print(
            f"{kind.name:10} {start:14.0f} {middle:12.0f} {middle / start:6.1f} "
            f"{then:14.0f} {then / start:6.1f}"
        )


def corpus(library: Path) -> None:
    print(f"\n== corpus: {library}, whole files in {BLOCK_SECONDS:g} s blocks")
    heading = f"{'file':38} {'format':>7} {'reader':>9} {'ours RTF':>9}"
    print(f"{heading} {'libsndfile RTF':>15} {'ratio':>6}")
    ratios: list[float] = []
    for path in audio_files(library):
        try:
            with open_reader(path) as reader:
                info, decoder = reader.info, type(reader).__name__.removesuffix("Reader").lower()
        except DecodeError as error:
            print(f"{path.name[:38]:38} cannot be read: {error.reason}")
            continue
        seconds = info.frames / info.samplerate
        ours = seconds / best_of(partial(read_in_blocks, path), 1)
        if libsndfile_whole(path):
            plain = seconds / best_of(partial(libsndfile_whole, path), 1)
            ratios.append(ours / plain)
            versus = f"{plain:15.0f} {ours / plain:6.2f}"
        else:
            versus = f"{'-':>15} {'-':>6}"
        print(f"{path.name[:38]:38} {info.format:>7} {decoder:>9} {ours:9.0f} {versus}")
    if ratios:
        print(f"ours/libsndfile where both read: median {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, help="real music (python -m bench.corpus)")
    parser.add_argument("--quick", action="store_true", help="no 60-minute files")
    args = parser.parse_args()
    folder = Path(user_cache_dir("tierplay")) / "bench-decode"
    folder.mkdir(parents=True, exist_ok=True)
    audio = music(args.library)
    speed(audio, folder)
    if not args.quick:
        seek_cost(audio, folder, FORMATS)
    if args.library:
        corpus(args.library)


if __name__ == "__main__":
    main()
