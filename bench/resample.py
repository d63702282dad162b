"""Resamplers side by side: scipy's resample_poly against soxr (the engine uses VHQ).

For each ratio a listener's files need (48 and 96 kHz, and 22.05 kHz, to a 44.1 kHz
device), and for each resampler:
- quality: the error of a multitone (31 tones, 20 Hz to 19 kHz) against the same tones
  computed at the output rate, in dB below the signal; passband ripple of single tones up
  to 20 kHz; the loudest alias left of a tone above the output's Nyquist;
- speed: one 12 s stereo render window, as a real-time factor, and as a ratio to
  resample_poly's in the same run;
- seams: the largest difference between a window resampled on its own (as `TrackSource`
  reads them: aligned, padded, trimmed) and the same frames of the whole signal resampled
  at once. The streaming engine needs 0: chunks are rendered from windows and must join
  sample for sample.

With `--library DIR` (the corpus: `python -m bench.corpus`), each track at another rate is
also read whole, window by window, through the engine's `TrackSource`, with soxr and with
resample_poly in its place: seconds per minute of music, and their ratio.

Run: .venv/bin/python -m bench.resample [--library DIR]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import numpy.typing as npt
import soxr
from scipy.signal import resample_poly

from engine.library import source as source_module
from engine.library.scan import probe, scan
from engine.library.source import RESAMPLE_REACH_NATIVE, TrackSource
from engine.library.tracks import resample_ratio

OUT_RATE = 44_100
IN_RATES = (48_000, 96_000, 22_050)
WINDOW_SECONDS = 12.0
WHOLE_SECONDS = 40.0
SEAM_WINDOWS = 6
SOXR_REACH_NATIVE = 4096
"""Padding each side for the others: more than their filters reach."""
EDGE_SECONDS = 0.5
"""Trimmed from both ends before an error is measured (filters' start and end)."""

Signal = npt.NDArray[np.float64]
Resampler = Callable[[Signal, int, int], Signal]


def poly(audio: Signal, rate: int, out_rate: int) -> Signal:
    up, down = resample_ratio(rate, out_rate)
    return np.asarray(resample_poly(audio, up, down, axis=0))


def poly_long(audio: Signal, rate: int, out_rate: int) -> Signal:
    """resample_poly with a longer, steeper filter: 24 zero crossings a side (scipy's is
    10), Kaiser beta 9 (scipy's is 5), cutoff at 0.95 of the lower Nyquist (scipy's is at
    it, so the band just below the output's Nyquist aliases)."""
    up, down = resample_ratio(rate, out_rate)
    return np.asarray(resample_poly(audio, up, down, axis=0, window=long_filter(up, down)))


def long_filter(up: int, down: int) -> Signal:
    from scipy.signal import firwin

    widest = max(up, down)
    half = 24 * widest
    return np.asarray(firwin(2 * half + 1, 0.95 / widest, window=("kaiser", 9.0)))


def soxr_hq(audio: Signal, rate: int, out_rate: int) -> Signal:
    return np.asarray(soxr.resample(audio, rate, out_rate, quality="HQ"))


def soxr_vhq(audio: Signal, rate: int, out_rate: int) -> Signal:
    return np.asarray(soxr.resample(audio, rate, out_rate, quality="VHQ"))


RESAMPLERS: dict[str, Resampler] = {
    "resample_poly": poly,
    "poly, long": poly_long,
    "soxr HQ": soxr_hq,
    "soxr VHQ": soxr_vhq,
}


def tones(
    frequencies: npt.NDArray[np.float64], rate: int, seconds: float, phases: Signal
) -> Signal:
    """Stereo sum of equal sines (left and right differ in phase), peak under 1."""
    t = np.arange(round(seconds * rate)) / rate
    left = np.zeros(t.size)
    right = np.zeros(t.size)
    for frequency, phase in zip(frequencies, phases, strict=True):
        left += np.sin(2 * np.pi * frequency * t + phase)
        right += np.sin(2 * np.pi * frequency * t + 2 * phase)
    scale = 0.5 / len(frequencies)
    return np.stack([left, right], axis=1) * scale


def trimmed(audio: Signal, rate: int) -> Signal:
    edge = round(EDGE_SECONDS * rate)
    return audio[edge:-edge]


def db(value: float) -> float:
    return 20 * math.log10(max(value, 1e-300))


def multitone_error_db(resample: Resampler, rate: int) -> float:
    """Error against the tones computed at the output rate, dB below the signal."""
    rng = np.random.default_rng(7)
    frequencies = np.geomspace(20.0, min(19_000.0, 0.43 * rate), 31)
    phases = rng.uniform(0, 2 * np.pi, frequencies.size)
    made = resample(tones(frequencies, rate, 4.0, phases), rate, OUT_RATE)
    ideal = tones(frequencies, OUT_RATE, 4.0, phases)
    count = min(made.shape[0], ideal.shape[0])
    error = trimmed(made[:count] - ideal[:count], OUT_RATE)
    signal = trimmed(ideal[:count], OUT_RATE)
    return db(float(np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(signal**2))))


def ripple_db(resample: Resampler, rate: int) -> float:
    """Largest gain error of a single tone, 20 Hz to 20 kHz (within the input's band)."""
    worst = 0.0
    for frequency in np.geomspace(20.0, min(20_000.0, 0.45 * rate), 24):
        made = trimmed(
            resample(tones(np.array([frequency]), rate, 2.0, np.zeros(1)), rate, OUT_RATE), OUT_RATE
        )
        gain = float(np.sqrt(np.mean(made[:, 0] ** 2)) / (0.5 / math.sqrt(2)))
        worst = max(worst, abs(db(gain)))
    return worst


def alias_db(resample: Resampler, rate: int) -> float | None:
    """The loudest output of a tone between the output's Nyquist and the input's, dB
    relative to the tone; None when the input has no such band (up-sampling)."""
    if rate <= OUT_RATE:
        return None
    loudest = -math.inf
    for frequency in np.linspace(0.53 * OUT_RATE, 0.48 * rate, 12):
        made = trimmed(
            resample(tones(np.array([frequency]), rate, 2.0, np.zeros(1)), rate, OUT_RATE), OUT_RATE
        )
        loudest = max(loudest, db(float(np.max(np.abs(made))) / 0.5))
    return loudest


def window_speed(resample: Resampler, rate: int) -> float:
    """Real-time factor of one render window (best of 5)."""
    rng = np.random.default_rng(3)
    window = rng.standard_normal((round(WINDOW_SECONDS * rate), 2)) * 0.1
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        resample(window, rate, OUT_RATE)
        best = min(best, time.perf_counter() - started)
    return WINDOW_SECONDS / best


def seam_error(resample: Resampler, rate: int) -> float:
    """Largest difference between windows resampled alone and the whole at once."""
    rng = np.random.default_rng(11)
    native = rng.standard_normal((round(WHOLE_SECONDS * rate), 2)) * 0.1
    whole = resample(native, rate, OUT_RATE)
    up, down = resample_ratio(rate, OUT_RATE)
    reach = RESAMPLE_REACH_NATIVE if resample is poly else SOXR_REACH_NATIVE
    pad = math.ceil(reach / down) + 1
    window = round(WINDOW_SECONDS * OUT_RATE)
    worst = 0.0
    for start in np.linspace(OUT_RATE, whole.shape[0] - window - OUT_RATE, SEAM_WINDOWS):
        first = int(start)
        q = max(0, first // up - pad)
        last = math.ceil((first + window) * down / up) + pad * down
        part = resample(native[q * down : last], rate, OUT_RATE)
        skip = first - q * up
        piece = part[skip : skip + window]
        worst = max(worst, float(np.max(np.abs(piece - whole[first : first + window]))))
    return worst


def read_whole(path: Path) -> float:
    """Seconds to read a track window by window (12 s each) through TrackSource."""
    track = probe(path, OUT_RATE)
    started = time.perf_counter()
    reader = TrackSource(track, OUT_RATE)
    window = round(WINDOW_SECONDS * OUT_RATE)
    for start in range(0, reader.frames, window):
        reader.read(start, start + window)
    return time.perf_counter() - started


def poly_in_place(audio: npt.NDArray[np.floating], up: int, down: int) -> Signal:
    """resample_poly where the engine calls soxr, with the same length rule."""
    out = np.asarray(resample_poly(np.asarray(audio, dtype=np.float64), up, down, axis=0))
    return out[: math.ceil(audio.shape[0] * up / down)]


def library_reads(folder: Path) -> None:
    found, _skipped = scan([folder])
    other = [path for path in found if probe(path, OUT_RATE).native_rate != OUT_RATE]
    print(f"\n{len(other)} tracks of {folder} at another rate, read whole in 12 s windows")
    print(f"{'track':<36}{'rate':>7}{'min':>6}{'soxr s/min':>12}{'poly s/min':>12}{'ratio':>7}")
    for path in other:
        track = probe(path, OUT_RATE)
        minutes = track.duration_seconds / 60
        with_soxr = read_whole(path)
        with mock.patch.object(source_module, "resampled", poly_in_place):
            with_poly = read_whole(path)
        print(
            f"{path.name[:35]:<36}{track.native_rate:>7}{minutes:>6.1f}"
            f"{with_soxr / minutes:>12.3f}{with_poly / minutes:>12.3f}{with_soxr / with_poly:>7.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=None)
    args = parser.parse_args()
    print(f"to {OUT_RATE} Hz; speed: one {WINDOW_SECONDS:g} s stereo window, x real time")
    header = (
        f"{'from':>7} {'resampler':<14}{'multitone':>10}{'ripple':>8}{'alias':>8}"
        f"{'speed':>8}{'x poly':>8}{'seam':>10}"
    )
    print(header)
    print(f"{'':>7} {'':<14}{'err dB':>10}{'dB':>8}{'dB':>8}{'x rt':>8}{'':>8}{'max diff':>10}")
    for rate in IN_RATES:
        base_speed = window_speed(poly, rate)
        for name, resample in RESAMPLERS.items():
            speed = base_speed if resample is poly else window_speed(resample, rate)
            alias = alias_db(resample, rate)
            print(
                f"{rate:>7} {name:<14}{multitone_error_db(resample, rate):>10.1f}"
                f"{ripple_db(resample, rate):>8.3f}"
                f"{'-' if alias is None else f'{alias:.1f}':>8}"
                f"{speed:>8.0f}{speed / base_speed:>8.2f}{seam_error(resample, rate):>10.2e}"
            )
    if args.library is not None:
        library_reads(args.library)


if __name__ == "__main__":
    main()
