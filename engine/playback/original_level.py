"""`OriginalLevel`: the feeder's reads of the original, whose level never steps.

A hot master's original plays at a plain gain under the ceiling, known once the track is
sampled. The feeder never waits for the sampling: until it lands the original (as itself,
or standing in for a preset not rendered yet) plays at unity through the limiter. Once the
gain is known, the reads that go on from there fade from unity to the gain over
`GAIN_SETTLE_SECONDS`, whatever reads them: the original's blocks, a stand-in, the source a
switch fades out of, or the one a render fades in from. So a switch or a render arriving
during the settle fades from what was playing, and a step of a few dB never clicks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dsp import crossfade
from engine.dsp.render import Renderer
from engine.frames import Audio
from engine.library.source import TrackSource
from engine.vocabulary import BYPASS

GAIN_SETTLE_SECONDS = 1.0
"""How long the level takes to go from unity to a hot master's gain once it is known."""

Stretch = tuple[str, str, int]
"""What plays on without a break: (track id, fingerprint, seeks made before it). A seek or
a track change starts another: what plays after it need not follow what played."""


@dataclass(frozen=True)
class _Unity:
    """The stretch whose original was read at unity, and the frame those reads reached:
    the settle starts there."""

    stretch: Stretch
    until: int


class OriginalLevel:
    """Reads the original for the feeder's thread (its only caller)."""

    def __init__(self, renderer: Renderer, sample_rate: int) -> None:
        self._renderer = renderer
        self._settle_frames = round(GAIN_SETTLE_SECONDS * sample_rate)
        self._unity: _Unity | None = None

    def measured(self, source: TrackSource) -> bool:
        """The track is sampled: its original's gain is known."""
        return self._renderer.is_prepared(source, BYPASS)

    def read(self, source: TrackSource, stretch: Stretch, start: int, stop: int) -> Audio:
        """Frames [start, stop) of the original: at unity until the track is sampled, then
        at its gain, reached by a fade from where the unity reads ended."""
        renderer = self._renderer
        if not self.measured(source):
            audio = renderer.original(source, start, stop, measure=False, at_unity=True)
            unity = self._unity
            until = stop if unity is None or unity.stretch != stretch else max(unity.until, stop)
            self._unity = _Unity(stretch, until)
            return audio
        gained = renderer.original(source, start, stop, measure=False)
        unity = self._unity
        if unity is None or unity.stretch != stretch:
            return gained
        settled = unity.until + self._settle_frames
        if start >= settled or renderer.original_gain(source) == 1.0:
            self._unity = None  # played past the settle (or nothing to settle)
            return gained
        if not len(gained):
            return gained
        return self._settling(source, unity.until, start, gained)

    def _settling(self, source: TrackSource, since: int, start: int, gained: Audio) -> Audio:
        """`gained` (from `start`) as heard while the level settles from `since` on:
        at unity before it, the fade from unity to the gain over the settle, then gained."""
        stop = start + len(gained)
        unity = self._renderer.original(source, start, stop, measure=False, at_unity=True)
        count = min(len(unity), len(gained))
        mixed = np.array(gained[:count], dtype=np.float32)
        before = min(count, max(0, since - start))  # heard at unity already
        mixed[:before] = unity[:before]
        fade_from = start + before
        fading = min(count, since + self._settle_frames - start) - before
        if fading > 0:
            part = slice(before, before + fading)
            offset = fade_from - since
            mixed[part] = crossfade.mix(
                unity[part], gained[part], offset, self._settle_frames, rho=1.0
            )
        return mixed
