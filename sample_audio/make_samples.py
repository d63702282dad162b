#!/usr/bin/env python3
"""Generate Tierplay's synthetic sample library: four short, deliberately different FLAC tracks.

Why synthetic: the player, its mastering chain and its content-aware analysis need music-like
material to work on, and we cannot ship other people's recordings. Every sound here is built
from numpy oscillators, envelopes, filters and seeded noise, so the files are reproducible byte
for byte (same script + same libraries -> same files) and the project can release them as CC0.

The tracks differ the way real releases do (a loud bright master, a quiet dynamic one, a
bass-heavy groove, a mono voice-led song) and each is arranged in sections whose level,
brightness and density change every ~8-15 s, so section/energy analysis has something to find.

Usage: python sample_audio/make_samples.py [--out DIR]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyloudnorm as pyln
import soundfile as sf
from scipy import signal

Audio = npt.NDArray[np.float64]
Pcm = npt.NDArray[np.int16]

Voice = Callable[[float, float, float, int], Audio]
"""One note of an instrument: (frequency Hz, gate s, velocity 0-1, sample rate) -> mono/stereo."""

Performer = Callable[[Sequence["Note"], int, int], Audio]
"""A whole part: (notes, total samples, sample rate) -> audio, so a part may be more than notes
summed independently (the sung line glides and morphs vowels across notes)."""

SEED = 0x7135_2024
GOLDEN = 0.6180339887498949  # spreads oscillator start phases without needing an RNG
CEILING_DB = -0.5  # sample-peak ceiling; leaves margin under the required -0.3 dBFS
WIDTH = 0.6  # supersaw stereo spread: 0 = mono .. 1 = voices hard left/right
_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


# --------------------------------------------------------------------------------------------
# Score: notes, sections, bars
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A timed event; drums reuse it with `midi` ignored, the sung line uses `vowel`."""

    start: float  # seconds once placed (beats while still inside a `phrase`)
    dur: float
    midi: float = 0.0
    vel: float = 1.0
    vowel: str = "a"


@dataclass(frozen=True)
class Section:
    """An arrangement block; its parts, level and brightness are what analysis should detect."""

    name: str
    bars: int
    parts: frozenset[str]
    level: tuple[float, float]  # linear gain at section start and end (ramps make swells)
    brightness: float  # 0 = only the low band survives .. 1 = fully open


def section(
    name: str, bars: int, parts: str, level: float | tuple[float, float], brightness: float
) -> Section:
    """Terse constructor so each track's arrangement reads like a table."""
    span = level if isinstance(level, tuple) else (level, level)
    return Section(name, bars, frozenset(parts.split()), span, brightness)


@dataclass(frozen=True)
class Song:
    """Tempo grid plus arrangement; converts musical time into seconds and samples."""

    sr: int
    bpm: float
    sections: tuple[Section, ...]
    tail: float  # seconds after the last bar so releases and reverb can ring out

    @property
    def beat(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    @property
    def bar(self) -> float:
        """Seconds per 4/4 bar."""
        return 4.0 * self.beat

    @property
    def length(self) -> int:
        """Total samples, tail included."""
        return samples(sum(s.bars for s in self.sections) * self.bar + self.tail, self.sr)

    def bounds(self) -> list[tuple[float, float]]:
        """Start/end seconds of every section."""
        edges = np.cumsum([0] + [s.bars for s in self.sections]) * self.bar
        return [(float(a), float(b)) for a, b in itertools.pairwise(edges)]


@dataclass(frozen=True)
class Bar:
    """Everything a part writer needs to decide what to play in one bar."""

    index: int  # bar number in the song
    local: int  # bar number inside its section
    t0: float  # start time in seconds
    beat: float
    section: Section
    rng: np.random.Generator

    @property
    def step(self) -> float:
        """A sixteenth note, the grid of every drum pattern."""
        return self.beat / 4.0


def bars(song: Song, rng: np.random.Generator) -> Iterator[Bar]:
    """Walk the arrangement bar by bar."""
    index = 0
    for sec, (start, _) in zip(song.sections, song.bounds(), strict=True):
        for local in range(sec.bars):
            yield Bar(index, local, start + local * song.bar, song.beat, sec, rng)
            index += 1


def note_number(name: str) -> int:
    """'A4' -> 69, 'F#2' -> 42, 'Bb1' -> 34: scores read far better as names than numbers."""
    pitch, rest = _PITCH_CLASS[name[0]], name[1:]
    if rest[0] in "#b":
        pitch += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + pitch


def chord(names: str) -> tuple[int, ...]:
    """'A3 C4 E4' -> MIDI numbers of a voicing."""
    return tuple(note_number(n) for n in names.split())


def phrase(text: str) -> tuple[Note, ...]:
    """Parse 'E5:1 r:0.5 G5:1.5:o | ...' into notes timed in beats.

    Each token is pitch:beats[:vowel]; 'r' is a rest and '|' only marks bars for the reader.
    """
    notes: list[Note] = []
    beat = 0.0
    for token in text.replace("|", " ").split():
        name, length, *vowel = token.split(":")
        if name != "r":
            notes.append(Note(beat, float(length), note_number(name), 1.0, "".join(vowel) or "a"))
        beat += float(length)
    return tuple(notes)


def bar_of(notes: Sequence[Note], bar: Bar, vel: float = 1.0, bars_long: int = 4) -> list[Note]:
    """Notes of one bar of a looping phrase, moved to the bar's time, so melodies repeat
    naturally however long a section is."""
    lo = 4.0 * (bar.local % bars_long)
    return [
        Note(bar.t0 + (n.start - lo) * bar.beat, n.dur * bar.beat, n.midi, vel * n.vel, n.vowel)
        for n in notes
        if lo <= n.start < lo + 4.0
    ]


def hits(
    pattern: str, bar: Bar, midi: float = 0.0, gate: float = 1.0, jitter: float = 0.0
) -> list[Note]:
    """A 16-step string ('X' accent, 'x' normal, 'o' ghost) -> notes; drum grids read best so.

    `jitter` randomises velocity a little (seeded) so repeated hits are not machine-identical.
    """
    levels = {"X": 1.0, "x": 0.7, "o": 0.4}
    out = []
    for step, char in enumerate(pattern):
        if char in levels:
            vel = levels[char] * (1.0 + jitter * float(bar.rng.uniform(-1.0, 1.0)))
            out.append(Note(bar.t0 + step * bar.step, gate * bar.step, midi, vel))
    return out


def block(voicing: Sequence[int], start: float, dur: float, vel: float) -> list[Note]:
    """All notes of a chord struck together."""
    return [Note(start, dur, m, vel) for m in voicing]


def arpeggio(voicing: Sequence[int], bar: Bar, pattern: str, vel: float, gate: float) -> list[Note]:
    """Walk up and down the voicing (plus its top octave) on the steps marked in `pattern`."""
    tones = [*voicing, voicing[0] + 12, voicing[1] + 12]
    order = tones + tones[-2:0:-1]
    notes = hits(pattern, bar, gate=gate, jitter=0.1)
    return [Note(n.start, n.dur, order[i % len(order)], n.vel * vel) for i, n in enumerate(notes)]


# --------------------------------------------------------------------------------------------
# DSP primitives
# --------------------------------------------------------------------------------------------


def samples(seconds: float, sr: int) -> int:
    """Duration -> sample count (at least one, so empty clips never appear)."""
    return max(1, round(seconds * sr))


def midi_hz(midi: float) -> float:
    """Equal temperament, A4 = 440 Hz."""
    return 440.0 * math.pow(2.0, (midi - 69.0) / 12.0)


def as_audio(x: object) -> Audio:
    """scipy is untyped; pin its results to float64 arrays once, here."""
    return np.asarray(x, dtype=np.float64)


def add_at(buf: Audio, clip: Audio, start: int) -> None:
    """Mix a clip into a buffer, silently cropping whatever falls off the end."""
    end = min(len(buf), start + len(clip))
    if end > start >= 0:
        buf[start:end] += clip[: end - start]


def times(n: int, sr: int) -> Audio:
    """Sample times in seconds."""
    return np.arange(n, dtype=np.float64) / sr


def adsr(n: int, sr: int, a: float, d: float, s: float, gate: float, r: float) -> Audio:
    """Linear attack/decay/sustain, then a linear release starting when the key lifts (`gate`)."""
    t = times(n, sr)
    env = np.interp(t, [0.0, a, a + d], [0.0, 1.0, s])
    release = np.clip(1.0 - (t - gate) / r, 0.0, 1.0)
    return as_audio(env * np.where(t > gate, release, 1.0))


def decay(n: int, sr: int, tau: float) -> Audio:
    """Exponential decay with time constant `tau`: how struck and plucked things die away."""
    return np.exp(-times(n, sr) / tau)


def phase(freq: float | Audio, n: int, sr: int, start: float = 0.0) -> Audio:
    """Oscillator phase in cycles; integrating frequency keeps glides and vibrato click-free."""
    if isinstance(freq, np.ndarray):
        return start + np.cumsum(freq) / sr
    return start + times(n, sr) * freq


def sine(freq: float | Audio, n: int, sr: int, start: float = 0.0) -> Audio:
    """Sine oscillator; `start` is the initial phase in cycles."""
    return np.sin(2.0 * np.pi * phase(freq, n, sr, start))


def saw(freq: float | Audio, n: int, sr: int, start: float = 0.0) -> Audio:
    """PolyBLEP sawtooth: a naive saw aliases harshly at 44.1 kHz; the BLEP correction around
    each reset removes most of that for almost no cost."""
    t = phase(freq, n, sr, start) % 1.0
    dt = np.broadcast_to(np.asarray(freq, dtype=np.float64) / sr, t.shape)
    y = 2.0 * t - 1.0
    low = t < dt
    x = t[low] / dt[low]
    y[low] -= 2.0 * x - x * x - 1.0
    high = t > 1.0 - dt
    x = (t[high] - 1.0) / dt[high]
    y[high] -= x * x + 2.0 * x + 1.0
    return y


def _filter(x: Audio, sr: int, order: int, edge: float | list[float], btype: str) -> Audio:
    """Butterworth filtering along time (axis 0) for mono or (n, ch) audio."""
    nyquist_safe = 0.45 * sr
    edges = (
        [min(e, nyquist_safe) for e in edge] if isinstance(edge, list) else min(edge, nyquist_safe)
    )
    sos = signal.butter(order, edges, btype=btype, fs=sr, output="sos")
    return as_audio(signal.sosfilt(sos, x, axis=0))


def lowpass(x: Audio, cutoff: float, sr: int, order: int = 2) -> Audio:
    """Subtractive synthesis' main tool: darken a bright oscillator."""
    return _filter(x, sr, order, cutoff, "lowpass")


def highpass(x: Audio, cutoff: float, sr: int, order: int = 2) -> Audio:
    """Remove lows (hats, DC/rumble, the 'air' band)."""
    return _filter(x, sr, order, cutoff, "highpass")


def bandpass(x: Audio, lo: float, hi: float, sr: int, order: int = 1) -> Audio:
    """Keep one band (snare rattle, formant resonances); order 1 = a single resonance."""
    return _filter(x, sr, order, [lo, hi], "bandpass")


def smooth(x: Audio, tau: float, sr: int) -> Audio:
    """One-pole low-pass (starting settled at x[0]) used to glide control curves."""
    a = 1.0 - float(np.exp(-1.0 / (tau * sr)))
    y, _ = signal.lfilter([a], [1.0, a - 1.0], x, zi=[(1.0 - a) * x[0]])
    return as_audio(y)


def pan(x: Audio, position: float) -> Audio:
    """Constant-power pan (-1 left .. +1 right) of a mono signal into stereo."""
    angle = (position + 1.0) * np.pi / 4.0
    return np.column_stack((x * np.cos(angle), x * np.sin(angle)))


def fit_channels(x: Audio, channels: int, position: float) -> Audio:
    """Bring a part to the track's channel count: pan mono parts, fold stereo ones for mono."""
    if x.ndim == 1:
        return pan(x, position) if channels == 2 else x[:, None]
    return x if channels == 2 else x.mean(axis=1, keepdims=True)


def fade_out(x: Audio, sr: int, seconds: float = 0.004) -> Audio:
    """Copy of `x` with a short linear fade at the end, so a clip that is cut while still
    (faintly) sounding cannot click. Copies because voices may return cached arrays."""
    n = min(len(x), samples(seconds, sr))
    ramp = np.linspace(1.0, 0.0, n)
    out = x.copy()
    out[-n:] *= ramp if x.ndim == 1 else ramp[:, None]
    return out


def render(notes: Sequence[Note], voice: Voice, total: int, sr: int) -> Audio:
    """Sum one voice over a note list into a song-length buffer (mono or stereo, as the voice)."""
    out: Audio | None = None
    for note in notes:
        clip = fade_out(voice(midi_hz(note.midi), note.dur, note.vel, sr), sr)
        if out is None:
            out = np.zeros((total, *clip.shape[1:]))
        add_at(out, clip, round(note.start * sr))
    return np.zeros(total) if out is None else out


def per_note(voice: Voice) -> Performer:
    """Turn a note voice into a part performer (the common case: notes are independent)."""

    def perform(notes: Sequence[Note], total: int, sr: int) -> Audio:
        return render(notes, voice, total, sr)

    return perform


def one_shot(make: Callable[[int], Audio]) -> Performer:
    """A performer that plays a fixed drum sample per hit, scaled by velocity."""

    def voice(_freq: float, _dur: float, vel: float, sr: int) -> Audio:
        return make(sr) * vel

    return per_note(voice)


# --------------------------------------------------------------------------------------------
# Instruments
# --------------------------------------------------------------------------------------------


def supersaw(freq: float, n: int, sr: int, voices: int, cents: float) -> Audio:
    """Detuned saw stack with alternate voices sent left/right: the beating voices give the
    'wall of synths' width and shimmer of synthwave/trance."""
    out = np.zeros((n, 2))
    for k, detune in enumerate(np.linspace(-cents, cents, voices)):
        wave = saw(freq * 2.0 ** (detune / 1200.0), n, sr, (k * GOLDEN) % 1.0)
        side = 0.5 if k == voices // 2 else 0.5 + WIDTH * (0.5 - k % 2)
        out[:, 0] += side * wave
        out[:, 1] += (1.0 - side) * wave
    return out * (2.0 / math.sqrt(voices))


def saw_pad(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Bright sustained supersaw chord tone."""
    n = samples(dur + 0.3, sr)
    env = adsr(n, sr, 0.03, 0.5, 0.7, dur, 0.3)
    return lowpass(supersaw(freq, n, sr, 7, 28.0) * (vel * env)[:, None], 6000.0, sr)


def saw_lead(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Narrower, snappier supersaw for the hook, open enough to cut through the pad."""
    n = samples(dur + 0.15, sr)
    env = adsr(n, sr, 0.005, 0.15, 0.8, dur, 0.12)
    return lowpass(supersaw(freq, n, sr, 5, 12.0) * (vel * env)[:, None], 12000.0, sr)


def saw_bass(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Saw plus sine sub under a fixed low-pass: a plain driving synth bass."""
    n = samples(dur + 0.04, sr)
    env = adsr(n, sr, 0.002, 0.12, 0.6, dur, 0.03)
    tone = 0.6 * saw(freq, n, sr) + 0.8 * sine(freq, n, sr)
    return lowpass(tone * env * vel, 1400.0, sr)


def pluck(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Short filtered saw blip for arpeggios."""
    n = samples(0.3, sr)
    env = decay(n, sr, 0.08) * (1.0 - decay(n, sr, 0.002))
    return lowpass(saw(freq, n, sr) * env * vel, 3200.0, sr)


@functools.lru_cache(maxsize=512)
def _piano_tone(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Additive stiff string: partials slightly sharp (inharmonicity), higher ones dying faster,
    softer touch = darker tone, and a damper once the key lifts. Cached: arpeggios repeat."""
    tau1 = float(np.clip(3.0 * (220.0 / freq) ** 0.5, 0.8, 5.0))
    n = samples(min(dur + 0.6, 5.0 * tau1), sr)
    t = times(n, sr)
    out = np.zeros(n)
    tilt = 2.0 - 1.1 * vel
    for k in range(1, 17):
        fk = k * freq * np.sqrt(1.0 + 0.0004 * k * k)
        if fk > min(0.45 * sr, 9000.0):
            break
        tau = tau1 / (1.0 + 0.6 * (k - 1))
        m = min(n, samples(7.0 * tau, sr))
        out[:m] += k**-tilt * np.sin(2.0 * np.pi * fk * t[:m] + k) * np.exp(-t[:m] / tau)
    damper = np.where(t < dur, 1.0, np.exp(-(t - dur) / 0.12))
    return out * (1.0 - np.exp(-t / 0.0015)) * damper * vel


def piano(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Piano-like note; velocity quantised to 1/20 so the tone cache actually hits."""
    return _piano_tone(round(freq, 3), round(dur, 3), round(vel * 20.0) / 20.0, sr)


def warm_pad(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Slow sine pad, left/right detuned a few cents so it breathes; pure tones keep it soft
    (and cheap for FLAC)."""
    n = samples(dur + 1.2, sr)
    env = adsr(n, sr, 1.0, 0.5, 0.8, dur, 1.2)
    out = np.zeros((n, 2))
    for side, cents in ((0, -4.0), (1, 4.0)):
        f = freq * 2.0 ** (cents / 1200.0)
        out[:, side] = sine(f, n, sr) + 0.3 * sine(2 * f, n, sr) + 0.1 * sine(3 * f, n, sr)
    return out * (0.5 * vel * env)[:, None]


def sub_bass(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Sine sub with a little 2nd harmonic and soft saturation, so it survives small speakers."""
    n = samples(dur + 0.05, sr)
    env = adsr(n, sr, 0.004, 0.08, 0.85, dur, 0.05)
    tone = sine(freq, n, sr) + 0.25 * sine(2.0 * freq, n, sr, 0.25)
    return np.tanh(1.4 * tone) * env * vel


def fm_keys(freq: float, dur: float, vel: float, sr: int) -> Audio:
    """Two-operator FM (1:1, decaying index): an electric-piano bark, kept dark."""
    n = samples(dur + 0.4, sr)
    index = (0.4 + 1.6 * vel) * decay(n, sr, 0.25)
    tone = np.sin(2.0 * np.pi * phase(freq, n, sr) + index * sine(freq, n, sr))
    return lowpass(tone * adsr(n, sr, 0.003, 0.6, 0.35, dur, 0.3) * vel, 2000.0, sr)


@functools.lru_cache(maxsize=16)
def kick(sr: int, top: float = 160.0, bottom: float = 48.0, tau: float = 0.14) -> Audio:
    """Pitched-down sine: the fast downward sweep reads as the beater, the tail as the body."""
    n = samples(6.0 * tau, sr)
    t = times(n, sr)
    freq = bottom + (top - bottom) * np.exp(-t / 0.03)
    body = np.sin(2.0 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / tau)
    click = 0.3 * np.sin(2.0 * np.pi * 1500.0 * t) * np.exp(-t / 0.002)
    return as_audio(np.tanh(1.5 * (body + click)) / math.tanh(1.5))


@functools.lru_cache(maxsize=16)
def snare(sr: int, top: float = 7000.0, seed: int = 1) -> Audio:
    """Band-passed noise burst plus a ~190 Hz body tone; short, because noise is what FLAC
    cannot compress."""
    n = samples(0.22, sr)
    noise = np.random.default_rng([SEED, seed]).standard_normal(n)
    rattle = bandpass(noise, 1500.0, top, sr, order=2) * decay(n, sr, 0.05)
    body = sine(190.0, n, sr) * decay(n, sr, 0.04)
    mix = rattle + 0.8 * body
    return as_audio(mix / np.max(np.abs(mix)))


@functools.lru_cache(maxsize=16)
def hat(sr: int, tau: float = 0.025, top: float = 16000.0, seed: int = 2) -> Audio:
    """High-passed noise with a very short decay (longer `tau` = open hat)."""
    n = samples(5.0 * tau, sr)
    noise = np.random.default_rng([SEED, seed]).standard_normal(n)
    tone = lowpass(highpass(noise, 7000.0, sr), top, sr) * decay(n, sr, tau)
    return as_audio(tone / np.max(np.abs(tone)))


@functools.lru_cache(maxsize=4)
def rim(sr: int) -> Audio:
    """Tonal click (two damped sines): percussion without any noise at all."""
    n = samples(0.06, sr)
    tone = sine(1700.0, n, sr) + 0.6 * sine(820.0, n, sr)
    return tone * decay(n, sr, 0.008) / 1.6


# --------------------------------------------------------------------------------------------
# The sung line (formant synthesis)
# --------------------------------------------------------------------------------------------

# (centre Hz, gain) of F1-F3 per vowel: which resonances the "throat" imposes on the source.
VOWELS: dict[str, tuple[tuple[float, float], ...]] = {
    "a": ((800.0, 1.0), (1150.0, 0.7), (2900.0, 0.3)),
    "e": ((420.0, 1.0), (1700.0, 0.6), (2700.0, 0.35)),
    "o": ((470.0, 1.0), (820.0, 0.7), (2800.0, 0.15)),
    "u": ((330.0, 1.0), (720.0, 0.35), (2550.0, 0.08)),
}
FORMANT_BANDWIDTH = (90.0, 110.0, 150.0)


def held(notes: Sequence[Note], total: int, sr: int, value: Callable[[Note], float]) -> Audio:
    """Step curve holding each note's value until the next note begins (through rests), so
    glides and vowel changes happen between notes rather than out of silence."""
    starts = [round(n.start * sr) for n in notes] + [total]
    out = np.full(total, value(notes[0]), dtype=np.float64)
    for note, a, b in zip(notes, starts[:-1], starts[1:], strict=True):
        out[a:b] = value(note)
    return out


def pitch_track(notes: Sequence[Note], total: int, sr: int) -> Audio:
    """Sung f0 in Hz: portamento between notes, vibrato that blooms late in long notes like a
    trained singer's, and a slow seeded drift so the pitch is never perfectly still."""
    t = times(total, sr)
    target = smooth(held(notes, total, sr, lambda n: n.midi), 0.045, sr)
    age = np.maximum(t - held(notes, total, sr, lambda n: n.start), 0.0)
    vibrato = 0.3 * (1.0 - np.exp(-age / 0.35)) * np.sin(2.0 * np.pi * 5.4 * t)
    knots = np.random.default_rng([SEED, 404]).standard_normal(int(t[-1] * 4) + 2)
    drift = 0.06 * np.interp(t, np.arange(len(knots)) / 4.0, knots)
    return 440.0 * 2.0 ** ((target + vibrato + drift - 69.0) / 12.0)


def loudness_gate(notes: Sequence[Note], total: int, sr: int) -> Audio:
    """Breath/volume envelope: on for 92% of each note so legato notes still articulate."""
    gate = np.zeros(total)
    for note in notes:
        gate[round(note.start * sr) : round((note.start + 0.92 * note.dur) * sr)] = note.vel
    return smooth(gate, 0.05, sr)


def formants(source: Audio, vowel: str, sr: int) -> Audio:
    """Parallel band-pass resonators at the vowel's formant frequencies."""
    out = np.zeros_like(source)
    for (centre, gain), width in zip(VOWELS[vowel], FORMANT_BANDWIDTH, strict=True):
        out += gain * bandpass(source, centre - width / 2, centre + width / 2, sr)
    return out


def sung_as(vowel: str) -> Callable[[Note], float]:
    """1.0 for notes sung on `vowel`, else 0.0: the raw crossfade weight of that vowel."""
    return lambda note: float(note.vowel == vowel)


def sing(notes: Sequence[Note], total: int, sr: int) -> Audio:
    """Formant-synthesised voice: a glottal-like (tilted saw) source through vowel resonances,
    crossfading between vowels as the lyric changes."""
    if not notes:
        return np.zeros(total)
    source = lowpass(saw(pitch_track(notes, total, sr), total, sr), 1200.0, sr, order=1)
    out = np.zeros(total)
    for vowel in sorted({n.vowel for n in notes}):
        weight = held(notes, total, sr, sung_as(vowel))
        out += smooth(weight, 0.04, sr) * formants(source, vowel, sr)
    return 4.0 * out * loudness_gate(notes, total, sr)


# --------------------------------------------------------------------------------------------
# Mixing and mastering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One instrument of a track: what it plays each bar and how it sounds."""

    write: Callable[[Bar], list[Note]]
    perform: Performer
    gain: float
    pan: float = 0.0
    pumped: bool = False  # ducked by the kick, as a sidechain compressor would


@dataclass(frozen=True)
class Track:
    """A finished piece: arrangement, parts and the master treatment that gives it its
    loudness/brightness character."""

    filename: str
    seed: int
    song: Song
    parts: Mapping[str, Part]
    channels: int
    target_lufs: float
    knee: float  # soft-clip knee as a fraction of the ceiling (lower = more limiting)
    tone_cutoff: float  # dark band kept when a section's brightness is 0
    reverb: float = 0.0
    pump_depth: float = 0.0
    top_cut: float | None = None  # low-pass the whole mix (the dark track)
    air: float = 0.0  # extra level above 4 kHz (the bright track)
    ratio: float = 1.0  # bus compression (1 = none)


def automation(song: Song, values: Sequence[tuple[float, float]], ramp: float = 0.25) -> Audio:
    """Per-section start/end values as a sample curve, with short ramps at section edges so
    level and brightness changes never click."""
    xs: list[float] = []
    ys: list[float] = []
    for (start, end), (a, b) in zip(song.bounds(), values, strict=True):
        xs += [start + (ramp if start > 0 else 0.0), end]
        ys += [a, b]
    return as_audio(np.interp(times(song.length, song.sr), xs, ys))


def pump(song: Song, depth: float) -> Audio:
    """Gain that dips after every beat (only where a kick plays) and recovers: the sidechain
    'pumping' that makes dance mixes feel loud and compressed."""
    since = times(song.length, song.sr) % song.beat
    shape = np.exp(-since / 0.16) * (1.0 - np.exp(-since / 0.006))  # 6 ms attack: no clicks
    active = [(depth, depth) if "kick" in s.parts else (0.0, 0.0) for s in song.sections]
    return as_audio(1.0 - automation(song, active) * shape / np.max(shape))


def tone(x: Audio, bright: Audio, cutoff: float, sr: int) -> Audio:
    """Section brightness: crossfade from a zero-phase low-passed copy to the full signal, which
    acts like an automated high shelf without a time-varying filter."""
    sos = signal.butter(2, cutoff, btype="lowpass", fs=sr, output="sos")
    low = as_audio(signal.sosfiltfilt(sos, x, axis=0))
    return low + bright[:, None] * (x - low)


def reverb(x: Audio, sr: int, wet: float, seconds: float = 2.0) -> Audio:
    """Convolution with darkened, exponentially decaying seeded noise: a smooth synthetic room.
    Independent noise per channel decorrelates the sides and widens the image."""
    n = samples(seconds, sr)
    rng = np.random.default_rng([SEED, 7])
    ir = rng.standard_normal((n, x.shape[1])) * np.exp(-6.9 * times(n, sr) / seconds)[:, None]
    ir = lowpass(ir, 3500.0, sr)
    ir[: samples(0.015, sr)] = 0.0  # pre-delay keeps attacks clear of the wash
    ir /= np.sqrt(np.sum(ir**2, axis=0))
    return x + wet * as_audio(signal.fftconvolve(x, ir, axes=0))[: len(x)]


def compress(x: Audio, sr: int, ratio: float, below_rms_db: float = 4.0) -> Audio:
    """RMS bus compressor, threshold set relative to the mix's own level: the loud master gets
    its density from gain riding first, so the final clipper only shaves peaks."""
    power = smooth(np.mean(x**2, axis=1), 0.01, sr)
    threshold = 10.0 * np.log10(np.mean(power)) - below_rms_db
    over = np.maximum(10.0 * np.log10(power + 1e-12) - threshold, 0.0)
    gain = as_audio(10.0 ** (-over * (1.0 - 1.0 / ratio) / 20.0))
    return x * gain[:, None]


def soft_clip(x: Audio, knee: float, ceiling: float) -> Audio:
    """Linear below `knee`, tanh-shaped above, never reaching `ceiling`: a gentle limiter."""
    mag = np.abs(x)
    over = mag > knee
    room = ceiling - knee
    out = x.copy()
    out[over] = np.sign(x[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return out


def loudness(x: Audio, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770, LUFS)."""
    return float(pyln.Meter(sr).integrated_loudness(x))


def master(x: Audio, sr: int, target: float, knee: float) -> Audio:
    """Gain to `target` LUFS under a soft-clip ceiling.

    Clipping lowers loudness, so the plain gain estimate falls short on the loud tracks; a few
    secant steps on (gain dB -> loudness) fix that. The slope is clamped to (0, 1] because
    clipping can only flatten the curve, which keeps the iteration from overshooting wildly.
    """
    ceiling = 10.0 ** (CEILING_DB / 20.0)

    def attempt(gain_db: float) -> tuple[Audio, float]:
        y = soft_clip(x * 10.0 ** (gain_db / 20.0), knee * ceiling, ceiling)
        return y, loudness(y, sr)

    prev_gain, prev_level = 0.0, loudness(x, sr)
    gain = target - prev_level
    y, level = attempt(gain)
    for _ in range(12):
        if abs(level - target) < 0.02:
            break
        step = gain - prev_gain
        slope = float(np.clip((level - prev_level) / step, 0.05, 1.0)) if step else 1.0
        prev_gain, prev_level = gain, level
        gain += (target - level) / slope
        y, level = attempt(gain)
    return y


def perform(track: Track) -> Audio:
    """Write every part bar by bar, render it and sum it into a (n, channels) mix."""
    song = track.song
    rng = np.random.default_rng([SEED, track.seed])
    notes: dict[str, list[Note]] = {name: [] for name in track.parts}
    for bar in bars(song, rng):
        for name in sorted(bar.section.parts):
            notes[name] += track.parts[name].write(bar)
    ducking = pump(song, track.pump_depth)
    mix = np.zeros((song.length, track.channels))
    for name, part in track.parts.items():
        audio = part.perform(notes[name], song.length, song.sr) * part.gain
        if part.pumped:
            audio = audio * (ducking if audio.ndim == 1 else ducking[:, None])
        mix += fit_channels(audio, track.channels, part.pan)
    return mix


def produce(track: Track) -> Audio:
    """Mix -> section brightness -> bus compression -> section level -> EQ -> room -> master.

    Compression comes before the level automation so it cannot iron out the section changes.
    """
    song, sr = track.song, track.song.sr
    mix = highpass(perform(track), 25.0, sr)
    bright = automation(song, [(s.brightness, s.brightness) for s in song.sections])
    mix = tone(mix, bright, track.tone_cutoff, sr)
    if track.ratio > 1.0:
        mix = compress(mix, sr, track.ratio)
    mix *= automation(song, [s.level for s in song.sections])[:, None]
    if track.top_cut:
        mix = lowpass(mix, track.top_cut, sr)
    if track.air:
        mix += track.air * highpass(mix, 4000.0, sr)
    if track.reverb:
        mix = reverb(mix, sr, track.reverb)
    return master(fade_out(mix, sr, 0.5), sr, track.target_lufs, track.knee)


# --------------------------------------------------------------------------------------------
# 01 Neon Drive: loud, dense, bright synthwave
# --------------------------------------------------------------------------------------------

NEON_CHORDS = (
    chord("A3 C4 E4 A4"),
    chord("F3 A3 C4 F4"),
    chord("C4 E4 G4 C5"),
    chord("G3 B3 D4 G4"),
)
NEON_HOOK = phrase(
    "E5:1 A5:1 G5:0.5 E5:1.5 | C5:1 F5:1 E5:1 C5:1 | E5:1 G5:1 C6:1 B5:1 | D5:1 G5:1 B5:1.5 A5:0.5"
)


def neon_chord(bar: Bar) -> tuple[int, ...]:
    """Am F C G, one chord per bar."""
    return NEON_CHORDS[bar.index % 4]


def neon_hats(bar: Bar) -> list[Note]:
    """Offbeat eighths in the verse, full sixteenths once the snare (chorus) is in."""
    busy = "snare" in bar.section.parts
    return hits("xoXo" * 4 if busy else "..x." * 4, bar, jitter=0.15)


NEON_PARTS: dict[str, Part] = {
    "pad": Part(
        lambda b: block(neon_chord(b), b.t0, 3.9 * b.beat, 0.8),
        per_note(saw_pad),
        0.45,
        pumped=True,
    ),
    "bass": Part(
        lambda b: hits("x.x." * 4, b, neon_chord(b)[0] - 24, gate=1.6),
        per_note(saw_bass),
        0.3,
        pumped=True,
    ),
    "arp": Part(
        lambda b: arpeggio(neon_chord(b), b, "x" * 16, 0.8, 0.9),
        per_note(pluck),
        0.22,
        -0.4,
        pumped=True,
    ),
    "lead": Part(lambda b: bar_of(NEON_HOOK, b), per_note(saw_lead), 0.42),
    "kick": Part(lambda b: hits("X...X...X...X...", b), one_shot(kick), 0.55),
    "snare": Part(lambda b: hits("....X.......X...", b), one_shot(snare), 0.45),
    "hats": Part(neon_hats, one_shot(hat), 0.3, 0.3),
    "open": Part(
        lambda b: hits("..x...x...x...x.", b),
        one_shot(functools.partial(hat, tau=0.09, seed=3)),
        0.15,
        -0.3,
    ),
}

NEON_DRIVE = Track(
    filename="01_neon_drive.flac",
    seed=1,
    song=Song(
        sr=44_100,
        bpm=128.0,
        sections=(
            section("intro", 4, "pad kick", 0.4, 0.12),
            section("verse", 4, "pad kick bass arp hats", 0.75, 0.5),
            section("chorus", 4, "pad kick bass arp hats snare lead", 1.0, 1.0),
            section("breakdown", 4, "pad arp lead", 0.45, 0.3),
            section("drop", 4, "pad kick bass arp hats snare lead open", 1.0, 1.0),
        ),
        tail=1.0,
    ),
    parts=NEON_PARTS,
    channels=2,
    target_lufs=-10.0,
    knee=0.6,
    tone_cutoff=700.0,
    reverb=0.12,
    pump_depth=0.45,
    air=0.6,
    ratio=3.0,
)


# --------------------------------------------------------------------------------------------
# 02 Quiet Rooms: soft piano and pads, big swells, lots of headroom
# --------------------------------------------------------------------------------------------

ROOM_CHORDS = (
    chord("D3 F#3 A3 C#4"),
    chord("B2 D3 F#3 A3"),
    chord("G2 B2 D3 F#3"),
    chord("A2 C#3 E3 A3"),
)
ROOM_MELODY = phrase(
    "F#5:1.5 E5:0.5 D5:1 C#5:1 | D5:2 B4:2 | B4:1 D5:1 A5:1.5 G5:0.5 | F#5:2 E5:1 r:1"
)


def room_chord(bar: Bar) -> tuple[int, ...]:
    """Dmaj7 Bm7 Gmaj7 A, one chord per bar, running on across sections."""
    return ROOM_CHORDS[bar.index % 4]


def touch(bar: Bar) -> float:
    """Piano velocity follows the section's dynamics, so loud passages are also brighter."""
    return 0.3 + 0.6 * float(np.mean(bar.section.level))


def room_chords(bar: Bar) -> list[Note]:
    """Block chords an octave up on beats 1 and 3, the second a little softer."""
    voicing = [m + 12 for m in room_chord(bar)]
    first = block(voicing, bar.t0, 1.8 * bar.beat, touch(bar))
    return first + block(voicing, bar.t0 + 2.0 * bar.beat, 1.8 * bar.beat, 0.8 * touch(bar))


ROOM_PARTS: dict[str, Part] = {
    "sparse": Part(
        lambda b: arpeggio(room_chord(b), b, "x.....x...x.....", touch(b), 5.0),
        per_note(piano),
        0.5,
        0.2,
    ),
    "flow": Part(
        lambda b: arpeggio(room_chord(b), b, "x.x.x.x.x.x.x.x.", touch(b), 3.0),
        per_note(piano),
        0.45,
        0.2,
    ),
    "pad": Part(lambda b: block(room_chord(b), b.t0, 3.8 * b.beat, 0.8), per_note(warm_pad), 0.3),
    "chords": Part(room_chords, per_note(piano), 0.35, -0.1),
    "melody": Part(lambda b: bar_of(ROOM_MELODY, b, touch(b)), per_note(piano), 0.6, -0.15),
    "bass": Part(
        lambda b: [Note(b.t0, 3.8 * b.beat, room_chord(b)[0] - 12, touch(b))],
        per_note(piano),
        0.55,
        -0.3,
    ),
}

QUIET_ROOMS = Track(
    filename="02_quiet_rooms.flac",
    seed=2,
    song=Song(
        sr=48_000,
        bpm=72.0,
        sections=(
            section("intro", 3, "sparse", (0.6, 0.7), 0.4),
            section("swell", 3, "flow pad", (0.3, 1.0), 0.65),
            section("climax", 3, "flow pad chords melody bass", (1.0, 0.85), 1.0),
            section("coda", 3, "sparse melody", (0.3, 0.1), 0.3),
        ),
        tail=3.0,
    ),
    parts=ROOM_PARTS,
    channels=2,
    target_lufs=-26.0,
    knee=0.9,
    tone_cutoff=1500.0,
    reverb=0.35,
)


# --------------------------------------------------------------------------------------------
# 03 Low End Groove: sub bass and kick up front, dark top
# --------------------------------------------------------------------------------------------

GROOVE_CHORDS = (
    chord("F3 Ab3 C4 Eb4"),
    chord("Db3 F3 Ab3 C4"),
    chord("Bb2 Db3 F3 Ab3"),
    chord("C3 Eb3 G3 Bb3"),
)
GROOVE_ROOTS = (note_number("F1"), note_number("Db2"), note_number("Bb1"), note_number("C2"))
GROOVE_RIFF = ((0, 3, 0), (3, 1, 0), (6, 2, 12), (8, 3, 0), (11, 2, 3), (14, 2, 7))


def groove_bass(bar: Bar) -> list[Note]:
    """Syncopated sub riff: (sixteenth, length in sixteenths, interval over the root)."""
    root = GROOVE_ROOTS[bar.index % 4]
    return [
        Note(bar.t0 + step * bar.step, length * bar.step, root + interval, 1.0)
        for step, length, interval in GROOVE_RIFF
    ]


def groove_keys(bar: Bar) -> list[Note]:
    """Offbeat electric-piano chord stabs."""
    voicing = GROOVE_CHORDS[bar.index % 4]
    stabs = hits("...x..x...x..x..", bar, gate=1.5, jitter=0.1)
    return [note for hit in stabs for note in block(voicing, hit.start, hit.dur, 0.6 * hit.vel)]


def groove_kick(bar: Bar) -> list[Note]:
    """Half-time thud in the intro, funkier once the bass arrives, busiest in the drop."""
    parts = bar.section.parts
    pattern = "X.........X....."
    if "sub" in parts:
        pattern = "X.....x.X.X..x.." if "hats" in parts else "X.....x...X..x.."
    return hits(pattern, bar, jitter=0.05)


GROOVE_PARTS: dict[str, Part] = {
    "sub": Part(groove_bass, per_note(sub_bass), 0.75),
    "keys": Part(groove_keys, per_note(fm_keys), 0.35, 0.15),
    "kick": Part(
        groove_kick, one_shot(functools.partial(kick, top=120.0, bottom=42.0, tau=0.4)), 1.0
    ),
    "snare": Part(
        lambda b: hits("....X.......X...", b),
        one_shot(functools.partial(snare, top=3000.0)),
        0.45,
    ),
    "hats": Part(
        lambda b: hits("x.x.x.x.x.x.x.x.", b, jitter=0.2),
        one_shot(functools.partial(hat, tau=0.02, top=9000.0, seed=4)),
        0.05,
        0.25,
    ),
}

LOW_END_GROOVE = Track(
    filename="03_low_end_groove.flac",
    seed=3,
    song=Song(
        sr=44_100,
        bpm=100.0,
        sections=(
            section("intro", 4, "keys kick", (0.45, 0.55), 0.1),
            section("groove", 4, "keys kick sub snare", 0.85, 0.45),
            section("breakdown", 4, "keys sub", (0.5, 0.6), 0.25),
            section("drop", 4, "keys kick sub snare hats", 1.0, 0.6),
        ),
        tail=0.8,
    ),
    parts=GROOVE_PARTS,
    channels=2,
    target_lufs=-13.0,
    knee=0.7,
    tone_cutoff=300.0,
    top_cut=5000.0,
)


# --------------------------------------------------------------------------------------------
# 04 Hum Line: a sung (formant) melody over light accompaniment, mono
# --------------------------------------------------------------------------------------------

HUM_CHORDS = (chord("C3 E3 G3"), chord("A2 C3 E3"), chord("F2 A2 C3"), chord("G2 B2 D3"))
HUM_LINES = {
    "verse": phrase(
        "G3:1:a A3:0.5:a C4:1.5:o | E4:1:e D4:1:a C4:2:o | A3:1.5:a C4:0.5:e D4:1:o E4:1:u"
        " | D4:3:a r:1"
    ),
    "chorus": phrase(
        "C5:1.5:a B4:0.5:a A4:1:o G4:1:a | A4:2:a E4:2:o | F4:1:e G4:1:a A4:1:a C5:1:o | B4:3:a r:1"
    ),
    "outro": phrase("E4:2:u D4:2:u | C4:4:u | r:4"),
}


def hum_chord(bar: Bar) -> tuple[int, ...]:
    """Progression restarts every section so the verse and chorus both begin on C."""
    return HUM_CHORDS[bar.local % 4]


HUM_PARTS: dict[str, Part] = {
    "voice": Part(lambda b: bar_of(HUM_LINES[b.section.name], b), sing, 0.55),
    "pad": Part(lambda b: block(hum_chord(b), b.t0, 3.9 * b.beat, 0.7), per_note(warm_pad), 0.4),
    "bass": Part(
        lambda b: hits("x.......x.....x.", b, hum_chord(b)[0] - 12, gate=3.5),
        per_note(sub_bass),
        0.45,
    ),
    "pluck": Part(
        lambda b: arpeggio([m + 12 for m in hum_chord(b)], b, "x.x.x.x.x.x.x.x.", 0.45, 1.5),
        per_note(piano),
        0.5,
    ),
    "kick": Part(
        lambda b: hits("X.......x.x.....", b),
        one_shot(functools.partial(kick, top=110.0, bottom=50.0, tau=0.18)),
        0.4,
    ),
    "rim": Part(lambda b: hits("....x.......x..o", b, jitter=0.1), one_shot(rim), 0.2),
}

HUM_LINE = Track(
    filename="04_hum_line.flac",
    seed=4,
    song=Song(
        sr=44_100,
        bpm=90.0,
        sections=(
            section("intro", 3, "pad pluck", (0.55, 0.65), 0.3),
            section("verse", 4, "voice pad bass", 0.7, 0.55),
            section("chorus", 4, "voice pad bass pluck kick rim", 1.0, 0.9),
            section("outro", 3, "voice pad", (0.4, 0.12), 0.35),
        ),
        tail=1.5,
    ),
    parts=HUM_PARTS,
    channels=1,
    target_lufs=-16.0,
    knee=0.8,
    tone_cutoff=900.0,
    reverb=0.2,
)

TRACKS = (NEON_DRIVE, QUIET_ROOMS, LOW_END_GROOVE, HUM_LINE)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def to_pcm16(x: Audio) -> Pcm:
    """Round (no dither: dither noise would bloat FLAC and break nothing audible here)."""
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_flac(path: Path, pcm: Pcm, sr: int) -> None:
    """Write to a hidden temp name, then rename, so readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        sf.write(tmp, pcm, sr, subtype="PCM_16", format="FLAC", compression_level=1.0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def describe(track: Track, pcm: Pcm) -> str:
    """One summary line: what a reviewer wants to check without opening an editor."""
    sr = track.song.sr
    x = pcm.astype(np.float64) / 32768.0
    peak = 20.0 * np.log10(np.max(np.abs(x)))
    rms = [
        20.0 * np.log10(np.sqrt(np.mean(x[round(a * sr) : round(b * sr)] ** 2)) + 1e-12)
        for a, b in track.song.bounds()
    ]
    sections = " ".join(f"{s.name}={r:.1f}" for s, r in zip(track.song.sections, rms, strict=True))
    return (
        f"{track.filename}: {len(x) / sr:.1f}s {sr} Hz {x.shape[1]}ch "
        f"{loudness(x, sr):.1f} LUFS peak {peak:.2f} dBFS | section RMS dBFS: {sections} "
        f"(spread {max(rms) - min(rms):.1f} dB)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Render every track into --out and print a one-line check of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output directory (default: this script's directory)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for track in TRACKS:
        pcm = to_pcm16(produce(track))
        write_flac(out / track.filename, pcm, track.song.sr)
        print(describe(track, pcm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
