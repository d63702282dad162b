"""The preset predictor: normalised, learns, scores itself honestly, persists."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.prediction.experts import ContentExpert, MarkovExpert, StayModel
from engine.prediction.placement import PlanInput, TrackPosition, branch_presets
from engine.prediction.predict import COLD_SWITCHES, PresetPredictor
from engine.vocabulary import PRESET_ORDER

FEATURES = st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5)


def suited_preset(features: list[float]) -> str:
    """A listener who picks by the music: the rule the content expert must discover."""
    energy, brightness, dynamics, _vocal, tempo = features
    if energy > 0.6 and tempo > 0.6:
        return "punchy"
    if brightness < 0.35:
        return "bright"
    if dynamics > 0.6:
        return "gentle"
    return "warm"


def test_cold_start_spreads_its_bets_over_the_other_presets() -> None:
    predictor = PresetPredictor()
    distribution = predictor.distribution("original")
    assert set(distribution) == set(PRESET_ORDER) - {"original"}
    assert math.isclose(sum(distribution.values()), 1.0)
    assert max(distribution.values()) - min(distribution.values()) < 0.05
    assert predictor.context() == "cold"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PRESET_ORDER), st.sampled_from(PRESET_ORDER), FEATURES | st.none()
        ),
        max_size=60,
    ),
    st.sampled_from(PRESET_ORDER),
    FEATURES | st.none(),
)
def test_the_distribution_is_always_a_distribution(
    switches: list[tuple[str, str, list[float] | None]],
    current: str,
    features: list[float] | None,
) -> None:
    predictor = PresetPredictor()
    for source, target, at in switches:
        predictor.observe_switch(source, target, at)
        predictor.observe_chunk_played(section_change=at is not None)
    distribution = predictor.distribution(current, features)
    assert current not in distribution
    assert len(distribution) == len(PRESET_ORDER) - 1
    assert math.isclose(sum(distribution.values()), 1.0, abs_tol=1e-9)
    assert all(0.0 < p < 1.0 for p in distribution.values())
    assert 0.0 < predictor.switch_probability_per_chunk() <= 0.95
    score = predictor.score()
    assert 0.0 <= score.top1_accuracy <= score.top3_accuracy <= 1.0
    assert 0.0 <= score.brier <= 2.0


def test_a_toggler_is_learned_and_scored() -> None:
    predictor = PresetPredictor()
    current = "original"
    for _ in range(40):
        target = "punchy" if current == "original" else "original"
        predictor.observe_switch(current, target)
        current = target
    distribution = predictor.distribution("punchy")
    assert max(distribution, key=distribution.__getitem__) == "original"
    assert distribution["original"] > 0.7
    score = predictor.score()
    assert score.predictions_made == 40
    assert score.top1_accuracy > 0.85  # only the first few guesses miss
    assert score.brier < 0.3


def test_content_guided_switches_beat_history_alone() -> None:
    rng = random.Random(7)
    predictor = PresetPredictor()
    current = "original"
    for _ in range(300):
        features = [rng.random() for _ in range(5)]
        target = suited_preset(features)
        if target != current:
            predictor.observe_switch(current, target, features)
            current = target
    view = predictor.view(current)
    assert view.blend_weights["content"] > view.blend_weights["markov"]
    assert view.score.top1_accuracy > 1.5 * view.baselines["markov"].top1_accuracy
    assert view.by_context["audio_guided"].predictions_made > 100
    assert view.by_context["cold"].predictions_made == COLD_SWITCHES
    dull = [0.4, 0.1, 0.5, 0.5, 0.4]
    assert max(predictor.distribution("warm", dull).items(), key=lambda kv: kv[1])[0] == "bright"


def test_scoring_uses_the_distribution_live_before_the_switch() -> None:
    predictor = PresetPredictor()
    before = predictor.distribution("original")
    predictor.observe_switch("original", "warm")
    expected = sum((p - (preset == "warm")) ** 2 for preset, p in before.items())
    assert predictor.score().brier == pytest.approx(expected)
    assert predictor.score().predictions_made == 1


def test_no_switch_to_the_same_or_an_unknown_preset_is_learned() -> None:
    predictor = PresetPredictor()
    predictor.observe_switch("warm", "warm")
    predictor.observe_switch("warm", "loud")
    assert predictor.score().predictions_made == 0


def test_the_stay_model_learns_section_changes_apart() -> None:
    stay = StayModel(prior_switch_probability=0.25)
    for chunk in range(200):
        change = chunk % 4 == 0
        stay.observe_chunk(change, switches=1 if change else 0)
    assert stay.switch_probability(True) > 0.5
    assert stay.switch_probability(False) < 0.05
    assert StayModel.is_section_change([0.2] * 5, [0.6] * 5) is True
    assert StayModel.is_section_change([0.5] * 5, [0.55] * 5) is False
    assert StayModel.is_section_change(None, [0.5] * 5) is None


def test_a_new_listener_who_touches_nothing_for_a_minute_is_taken_as_settled() -> None:
    """Six chunks of steady music without a switch: no switch target is worth rendering
    among five equally likely ones, while the first chunk still renders them all."""
    stay = StayModel(prior_switch_probability=0.25)
    even = {preset: 0.2 for preset in ("adaptive", "gentle", "bright", "punchy", "warm")}

    def targets() -> list[str]:
        track = TrackPosition("t", "fp", 30)
        probability = stay.switch_probability(False)
        chunk_bytes = {"l1": 1, "l2": 1, "l3": 1}
        plan = PlanInput(track, 0, 0.0, "original", 20, even, probability, chunk_bytes, chunk_bytes)
        return branch_presets(plan)

    assert len(targets()) == 5
    for _chunk in range(6):
        stay.observe_chunk(False, switches=0)
    assert targets() == []


def test_a_settled_listener_lowers_the_switch_probability() -> None:
    predictor = PresetPredictor()
    before = predictor.switch_probability_per_chunk()
    for _ in range(60):
        predictor.observe_chunk_played()
    assert predictor.switch_probability_per_chunk() < before / 5


def test_decay_follows_a_change_of_habit() -> None:
    markov = MarkovExpert(PRESET_ORDER)
    for _ in range(30):
        markov.learn("original", "warm", None)
    for _ in range(30):
        markov.learn("original", "bright", None)
    distribution = markov.distribution("original", None)
    assert distribution["bright"] > distribution["warm"]


def test_the_content_expert_without_features_has_no_opinion() -> None:
    expert = ContentExpert(PRESET_ORDER)
    distribution = expert.distribution("original", None)
    assert len(set(distribution.values())) == 1


def test_state_round_trips_through_json() -> None:
    rng = random.Random(3)
    predictor = PresetPredictor()
    current = "original"
    for _ in range(50):
        features = [rng.random() for _ in range(5)]
        target = suited_preset(features)
        if target != current:
            predictor.observe_switch(current, target, features)
            current = target
        predictor.observe_chunk_played(section_change=rng.random() < 0.3)
    restored = PresetPredictor()
    restored.load_state(json.loads(json.dumps(predictor.state())))
    probe = [0.7, 0.5, 0.3, 0.4, 0.8]
    for preset in PRESET_ORDER:
        assert restored.distribution(preset, probe) == pytest.approx(
            predictor.distribution(preset, probe)
        )
    assert restored.switch_probability_per_chunk() == pytest.approx(
        predictor.switch_probability_per_chunk()
    )
    assert restored.context() == predictor.context()
    assert restored.score().predictions_made == 0  # scores belong to a session


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("experts"),
        lambda s: s.update(format=99),
        lambda s: s.update(presets=7),
        lambda s: s.update(presets=["original", 3]),
        lambda s: s["experts"]["markov"]["counts"]["original"].update(warm=-1.0),
        lambda s: s["experts"]["markov"]["counts"]["original"].update(warm=float("nan")),
        lambda s: s["experts"]["content"]["means"].update(warm=[2.0] * 5),
        lambda s: s["experts"]["content"].update(variance=[0.1]),
        lambda s: s["blend"].update(markov=0.0),
        lambda s: s.update(learned_switches=-3),
        lambda s: s.update(stay={"steady": [1.0, 0.0], "change": [1.0, 4.0]}),
        lambda s: s.update(stay="nonsense"),
    ],
)
def test_a_damaged_state_is_refused_and_changes_nothing(damage: object) -> None:
    trained = PresetPredictor()
    for _ in range(10):
        trained.observe_switch("original", "warm")
    state = json.loads(json.dumps(trained.state()))
    damage(state)  # type: ignore[operator]
    fresh = PresetPredictor()
    before = fresh.distribution("original")
    with pytest.raises(ValueError):
        fresh.load_state(state)
    assert fresh.distribution("original") == before


def trained_on_warm() -> PresetPredictor:
    predictor = PresetPredictor()
    for _ in range(12):
        predictor.observe_switch("original", "warm")
        predictor.observe_switch("warm", "original")
    return predictor


def test_a_model_saved_with_other_presets_keeps_what_it_learned_of_those_kept() -> None:
    state = json.loads(json.dumps(trained_on_warm().state()))
    presets = (*[p for p in PRESET_ORDER if p != "bright"], "airy")
    restored = PresetPredictor(presets)
    restored.load_state(state)
    distribution = restored.distribution("original")
    assert set(distribution) == set(presets) - {"original"}
    assert max(distribution, key=distribution.__getitem__) == "warm"
    assert distribution["airy"] == pytest.approx(distribution["punchy"])  # priors alone


def test_presets_changed_while_playing_keep_the_learning_and_the_scores() -> None:
    predictor = trained_on_warm()
    made = predictor.score().predictions_made
    revision = predictor.revision
    predictor.set_presets((*PRESET_ORDER, "airy", "night"))
    distribution = predictor.distribution("original")
    assert "airy" in distribution and "night" in distribution
    assert max(distribution, key=distribution.__getitem__) == "warm"
    assert sum(distribution.values()) == pytest.approx(1.0)
    assert predictor.score().predictions_made == made
    assert predictor.revision > revision  # saved with the new list
    predictor.observe_switch("original", "airy")
    assert predictor.score().predictions_made == made + 1


class SwitchDuringCopy(PresetPredictor):
    """A predictor whose first state copy is followed at once by a switch learned on
    another thread: the window `set_presets` must not lose it in."""

    def __init__(self) -> None:
        super().__init__()
        self.copies = 0

    def state(self) -> dict[str, Any]:
        copied = super().state()
        self.copies += 1
        if self.copies == 1:
            self.observe_switch("original", "bright")
        return copied


def test_a_switch_learned_while_the_presets_change_is_kept() -> None:
    predictor = SwitchDuringCopy()
    predictor.set_presets((*PRESET_ORDER, "airy"))
    assert predictor.copies == 2
    assert predictor.view("original").learned_switches == 1
    distribution = predictor.distribution("original")
    assert max(distribution, key=distribution.__getitem__) == "bright"
