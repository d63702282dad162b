"""Buffer benchmark: tier fetch and decode costs, compression, worker throughput.

Figures, each against a baseline measured in the same run:
- L1 fetch (a counted lookup hit, checksum verified) / a plain numpy copy of the same 10 s
  chunk, and fetch + the copy into the output ring / that copy;
- L1 read with its CRC-32 verified / the same read without it (a bare tier fetch), and / the
  L2 decode, with the verification's share of the output ring's lead (what the feeder has
  in hand when it reads the next chunk): the cost of never playing a corrupted L1 entry;
- L2 and L3 decode (a promotion) in ms per 10 s chunk, and as a multiple of the copy;
- L2/L3 bytes per chunk as a fraction of float32, with zstd over int16 alongside (the codec
  L3 did not get), on every sample track;
- worker throughput in chunks/s with 1 and 2 render threads, and their ratio.

Run: .venv/bin/python -m bench.buffer [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import zstandard

from engine.cache.buffer import MultiTierBuffer
from engine.cache.codecs import Codec, FlacCodec, Int16Codec
from engine.cache.keys import ChunkKey
from engine.cache.worker import RenderWorkerPool
from engine.config import EngineConfig
from engine.dsp.calibrations import LoudnessCalibrations
from engine.dsp.render import Renderer
from engine.library.scan import probe
from engine.library.source import TrackSource
from engine.prediction.placement import PlacementPlan, PlannedChunk

SAMPLE_AUDIO = Path(__file__).resolve().parent.parent / "sample_audio"
PRESETS = ("adaptive", "gentle", "warm", "bright", "punchy")


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fetch_and_decode(chunk: np.ndarray, repeats: int) -> None:
    key = ChunkKey("t", "warm", 20, 1)
    buffer = MultiTierBuffer.from_megabytes(18, 36, 45)
    l1 = buffer.tiers["l1"]
    ring = np.empty_like(chunk)
    copy = median_seconds(lambda: np.copy(chunk), repeats)
    buffer.store(key, chunk, "fp", "l1", 1.0)
    fetch = median_seconds(lambda: buffer.lookup(key, "fp", "playback"), repeats)

    def fetch_into_ring() -> None:
        found = buffer.lookup(key, "fp", "playback").audio
        assert found is not None
        ring[:] = found

    into_ring = median_seconds(fetch_into_ring, repeats)
    unverified = median_seconds(lambda: l1.fetch(key, "fp"), repeats)

    def verified_read() -> None:
        stored = l1.fetch(key, "fp")
        assert stored is not None
        l1.decode(stored)

    verified = median_seconds(verified_read, repeats)
    codecs: tuple[tuple[str, Codec], ...] = (("L2 int16", Int16Codec()), ("L3 flac", FlacCodec()))
    decodes = {
        name: median_seconds(partial(codec.decode, codec.encode(chunk)), repeats)
        for name, codec in codecs
    }
    print(f"plain numpy copy of a 10 s chunk        {copy * 1000:7.3f} ms  (baseline)")
    ratio = fetch / copy
    print(f"L1 fetch (counted lookup hit)           {fetch * 1000:7.3f} ms  ratio {ratio:.3f}")
    print(
        f"L1 fetch + copy into the ring           {into_ring * 1000:7.3f} ms  "
        f"ratio {into_ring / copy:.3f}"
    )
    print(f"L1 read, not verified (tier fetch)      {unverified * 1000:7.3f} ms")
    ring_lead = EngineConfig().ring_seconds
    print(
        f"L1 read, CRC-32 verified                {verified * 1000:7.3f} ms  "
        f"ratio {verified / unverified:.0f} to unverified, "
        f"{verified / decodes['L2 int16']:.3f} to the L2 decode"
    )
    print(
        f"  verifying one chunk as the feeder reads it: "
        f"{(verified - unverified) / ring_lead:.2%} of its {ring_lead:.2f} s ring lead"
    )
    for name, decode in decodes.items():
        print(
            f"{name:<8} decode (promotion) per chunk     {decode * 1000:7.3f} ms  "
            f"ratio {decode / copy:.1f}"
        )


def compression(tracks: list[TrackSource], renderer: Renderer) -> None:
    print("\nBytes per 10 s chunk as a fraction of float32 (chunk 1, preset warm)")
    print(f"{'track':<24}{'L2 int16':>10}{'L3 flac':>10}{'zstd-3 int16':>14}")
    compressor = zstandard.ZstdCompressor(level=3)
    for track in tracks:
        chunk = renderer.render_chunk(track, "warm", 1.0, 1)
        raw = chunk.nbytes
        int16 = Int16Codec().encode(chunk)
        flac = FlacCodec().encode(chunk)
        assert isinstance(int16.payload, bytes)
        zstd = len(compressor.compress(int16.payload))
        print(
            f"{track.track.path.name:<24}{int16.size_bytes / raw:>10.3f}"
            f"{flac.size_bytes / raw:>10.3f}{zstd / raw:>14.3f}"
        )


def throughput(track: TrackSource, threads: int, chunks: int) -> float:
    config = EngineConfig(render_threads=threads)
    buffer = MultiTierBuffer.from_megabytes(1000, 1000, 1000)
    calibrations = LoudnessCalibrations()
    for preset in PRESETS:  # calibrate first: measure chunk renders, not preparation
        Renderer(config, calibrations).plan(track, preset)
    pool = RenderWorkerPool(
        config,
        buffer,
        lambda _id, _fp: track,
        lambda: Renderer(config, calibrations),
    )
    count = min(chunks, 4 * len(PRESETS))
    items = tuple(
        PlannedChunk(ChunkKey("t", PRESETS[i % 5], 20, i // 5), "fp", "l3", 1.0 - i / 100, 0.5)
        for i in range(count)
    )
    start = time.perf_counter()
    pool.submit_plan(PlacementPlan(items, by_key={item.key: item for item in items}))
    while pool.metrics().renders_total < count:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    pool.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    tracks = [TrackSource(probe(p, 44_100), 44_100) for p in sorted(SAMPLE_AUDIO.glob("*.flac"))]
    renderer = Renderer(EngineConfig())
    print("Tier costs on a 10 s rendered chunk of", tracks[0].track.path.name)
    fetch_and_decode(renderer.render_chunk(tracks[0], "warm", 1.0, 1), args.repeats)
    compression(tracks, renderer)
    one = throughput(tracks[0], 1, 20)
    two = throughput(tracks[0], 2, 20)
    print(
        f"\nWorker throughput: 1 thread {one:.1f} chunks/s, 2 threads {two:.1f} chunks/s "
        f"(ratio {two / one:.2f}; 10 s chunks, so {one * 10:.0f}x and {two * 10:.0f}x real time)"
    )


if __name__ == "__main__":
    main()
