"""The placement plan: value ranking, tier filling, branches, next-track head."""

from __future__ import annotations

import pytest

from engine.prediction.placement import PlanInput, TrackPosition, branch_presets, make_plan

CHUNK = {"l1": 3_528_000, "l2": 1_764_000, "l3": 600_000}
BUDGETS = {"l1": 18_000_000, "l2": 36_000_000, "l3": 45_000_000}


def plan_input(**overrides) -> PlanInput:
    values = {
        "track": TrackPosition("t1", "fp1", 30),
        "playhead_chunk": 4,
        "position_in_chunk": 0.3,
        "preset": "warm",
        "intensity_bucket": 20,
        "distribution": {"adaptive": 0.1, "gentle": 0.1, "bright": 0.6, "punchy": 0.2},
        "switch_probability_per_chunk": 0.3,
        "tier_chunk_bytes": CHUNK,
        "tier_budget_bytes": BUDGETS,
        "next_track": TrackPosition("t2", "fp2", 5),
    }
    values.update(overrides)
    return PlanInput(**values)


def test_now_and_next_of_current_and_top_target_are_in_l1() -> None:
    plan = make_plan(plan_input())
    l1 = {(i.key.preset, i.key.chunk_index) for i in plan.items if i.tier == "l1"}
    assert {("warm", 4), ("warm", 5), ("bright", 4)} <= l1
    assert plan.top_switch_targets(2) == ["bright", "punchy"]


def test_tiers_fill_in_value_order_within_budgets() -> None:
    plan = make_plan(plan_input())
    order = {"l1": 0, "l2": 1, "l3": 2}
    values = [(order[i.tier], -i.value) for i in plan.items]
    assert values == sorted(values)
    for tier, budget in BUDGETS.items():
        assert sum(CHUNK[tier] for i in plan.items if i.tier == tier) <= budget


def test_deep_read_ahead_is_only_the_current_preset() -> None:
    plan = make_plan(plan_input(switch_probability_per_chunk=0.05))
    far = [i for i in plan.items if i.key.chunk_index > 4 + 2 and i.key.track_id == "t1"]
    assert far and all(i.key.preset == "warm" for i in far)
    assert max(i.key.chunk_index for i in far) == 4 + 12


def test_read_ahead_stops_where_the_listener_has_likely_switched_away() -> None:
    busy = make_plan(plan_input(switch_probability_per_chunk=0.5))
    ahead = sorted(i.key.chunk_index for i in busy.items if i.key.preset == "warm")
    # P(still on warm) = 0.5 ** 2.7 < 0.3 three chunks on, beyond the next chunk's guarantee.
    assert ahead == [4, 5, 6]
    assert all(i.probability >= 0.3 for i in busy.items if i.key.preset == "warm")


def test_each_branch_chunk_uses_its_own_music() -> None:
    """A new section two chunks on brings its own likely preset into the plan there."""
    here = {"adaptive": 0.05, "gentle": 0.05, "bright": 0.8, "punchy": 0.1}
    chorus = {"adaptive": 0.05, "gentle": 0.05, "bright": 0.1, "punchy": 0.8}
    plan = make_plan(plan_input(chunk_distributions=(here, here, chorus)))
    at = {c: {i.key.preset for i in plan.items if i.key.chunk_index == c} for c in (4, 5, 6)}
    assert "bright" in at[4] and "bright" in at[5]
    assert "punchy" in at[6]


def test_unlikely_targets_are_not_rendered() -> None:
    chosen = branch_presets(plan_input(distribution={"bright": 0.97, "punchy": 0.03}))
    assert chosen == ["bright"]
    settled = branch_presets(plan_input(switch_probability_per_chunk=0.01))
    assert settled == []  # a settled listener's branches would go unheard: a miss renders
    #                       the head in tens of milliseconds instead


def test_a_less_likely_target_is_rendered_nearer_the_playhead_only() -> None:
    """Every likely enough target at the playhead (an explorer's next pick is a guess among
    all), but further on only the likelier: there is time to render those later."""
    spread = plan_input(distribution={"adaptive": 0.1, "gentle": 0.1, "bright": 0.6, "punchy": 0.2})
    assert branch_presets(spread, 0) == ["bright", "punchy", "adaptive", "gentle"]
    assert branch_presets(spread, 1) == ["bright", "punchy", "adaptive", "gentle"]
    assert branch_presets(spread, 2) == ["bright", "punchy"]


def test_probabilities_are_probabilities_and_values_fall_with_distance() -> None:
    plan = make_plan(plan_input())
    assert all(0.0 <= i.probability <= 1.0 for i in plan.items)
    warm = sorted((i.key.chunk_index, i.value) for i in plan.items if i.key.preset == "warm")
    assert [v for _c, v in warm] == sorted((v for _c, v in warm), reverse=True)


def test_next_track_head_is_planned_near_the_end() -> None:
    near_end = make_plan(plan_input(playhead_chunk=27))
    assert any(i.key.track_id == "t2" and i.key.chunk_index == 0 for i in near_end.items)
    far = make_plan(plan_input(playhead_chunk=2))
    assert not any(i.key.track_id == "t2" for i in far.items)


def test_original_as_current_preset_is_never_planned() -> None:
    plan = make_plan(plan_input(preset="original", current_needs_render=False))
    assert all(i.key.preset != "original" for i in plan.items)
    assert any(i.key.preset == "bright" for i in plan.items)


@pytest.mark.parametrize("budget", [0, 1_000_000, 5_000_000])
def test_tiny_budgets_plan_what_fits(budget: int) -> None:
    plan = make_plan(plan_input(tier_budget_bytes={"l1": budget, "l2": budget, "l3": budget}))
    for tier in ("l1", "l2", "l3"):
        assert sum(CHUNK[tier] for i in plan.items if i.tier == tier) <= budget
