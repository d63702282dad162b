"""`BlindTest`: two presets behind the letters A and B, picks counted, then revealed.

The listener hears one preset and then the other without knowing which is which, picks the
one they prefer, and a new round hides the two behind the letters again, in a new random
order. The reveal says how often each was picked: a preference that survives not knowing
the name is a real one. Screen-free: the app shows the letters and hides the names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

LETTERS = ("A", "B")


@dataclass
class BlindTest:
    pair: tuple[str, str]
    rng: random.Random = field(default_factory=random.Random)
    picks: dict[str, int] = field(init=False)
    rounds: int = field(init=False, default=1)
    _order: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.picks = dict.fromkeys(self.pair, 0)
        self._order = list(self.pair)
        self.rng.shuffle(self._order)

    def letter(self, preset: str) -> str:
        """The letter `preset` goes by this round ("?" for a preset not in the test)."""
        return LETTERS[self._order.index(preset)] if preset in self._order else "?"

    def preset(self, letter: str) -> str:
        return self._order[LETTERS.index(letter)]

    def other(self, preset: str) -> str:
        """The preset to switch to from `preset` (from one outside the test: A)."""
        if preset not in self._order:
            return self._order[0]
        return self._order[1 - self._order.index(preset)]

    def pick(self, preset: str) -> bool:
        """The listener prefers `preset` this round: counted, and a new round begins with
        the letters drawn again. False (nothing counted) for a preset not in the test."""
        if preset not in self.picks:
            return False
        self.picks[preset] += 1
        self.rounds += 1
        self.rng.shuffle(self._order)
        return True

    @property
    def picked(self) -> int:
        return sum(self.picks.values())

    def reveal(self) -> str:
        """What the listener chose, named."""
        if not self.picked:
            return f"blind test ended with no pick ({self.pair[0]} against {self.pair[1]})"
        ranked = sorted(self.pair, key=lambda preset: -self.picks[preset])
        counts = ", ".join(f"{p} {self.picks[p]}" for p in ranked)
        return f"blind test: picked {counts} of {self.picked} rounds"
