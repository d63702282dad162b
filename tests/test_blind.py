"""The blind test's bookkeeping: letters drawn per round, picks counted, the reveal named."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from tui.blind import BlindTest


def test_letters_hide_the_pair_and_are_drawn_again_after_each_pick() -> None:
    blind = BlindTest(("warm", "punchy"), random.Random(1))
    assert {blind.letter("warm"), blind.letter("punchy")} == {"A", "B"}
    assert blind.other("warm") == "punchy" and blind.other("punchy") == "warm"
    assert blind.other("original") == blind.preset("A")  # from outside the pair: A first
    assert blind.letter("original") == "?"
    orders = set()
    for _ in range(20):
        orders.add(blind.letter("warm"))
        assert blind.pick("warm")
    assert orders == {"A", "B"}, "a pick by letter alone must not be possible"
    assert not blind.pick("bright")
    assert blind.picks == {"warm": 20, "punchy": 0} and blind.rounds == 21


def test_the_reveal_names_the_picks_most_first() -> None:
    blind = BlindTest(("warm", "punchy"), random.Random(2))
    assert blind.reveal() == "blind test ended with no pick (warm against punchy)"
    for preset in ("punchy", "warm", "punchy"):
        blind.pick(preset)
    assert blind.reveal() == "blind test: picked punchy 2, warm 1 of 3 rounds"


@given(st.lists(st.booleans(), max_size=40), st.integers(0, 1000))
def test_picks_always_add_up_to_the_rounds_played(choices: list[bool], seed: int) -> None:
    blind = BlindTest(("a", "b"), random.Random(seed))
    for first in choices:
        blind.pick(blind.preset("A" if first else "B"))
    assert blind.picked == len(choices) == blind.rounds - 1
