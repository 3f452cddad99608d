"""Interleaved evaluation: which episodes evaluate, their h, and how they become evaluations."""
import pytest

from jsrl_learning.interleaved import EpisodePlan, EpisodePlanner, EvaluationAverager


def test_evaluations_come_after_every_eval_every_episodes_training_episodes_at_the_largest_choice():
    planner = EpisodePlanner(eval_every_episodes=3, eval_episodes=2, seed=0)
    plans = [planner.plan([6, 4, 2]) for _ in range(10)]
    assert [p.evaluation for p in plans] == [False] * 3 + [True] * 2 + [False] * 3 + [True] * 2
    assert {p.guide_step for p in plans if p.evaluation} == {6}
    assert {p.guide_step for p in plans if not p.evaluation} <= {6, 4, 2}


def test_training_h_is_uniform_over_the_choices_and_seeded():
    draws = [EpisodePlanner(0, 1, seed=1).plan([5, 3, 1]).guide_step for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same first draw
    planner = EpisodePlanner(0, 1, seed=2)
    counts = {h: 0 for h in (5, 3, 1)}
    for _ in range(3000):
        counts[planner.plan([5, 3, 1]).guide_step] += 1
    assert all(900 < c < 1100 for c in counts.values()), counts


def test_the_plan_switches_from_guide_to_explorer_at_h():
    assert [EpisodePlan(2, False).controller(t) for t in range(4)] == ["guide", "guide", "explorer", "explorer"]
    assert EpisodePlan(0, True).controller(0) == "explorer"


@pytest.mark.parametrize("choices", [[], [2, -1]])
def test_bad_choices_are_refused(choices):
    with pytest.raises(ValueError, match="choices"):
        EpisodePlanner(1, 1, 0).plan(choices)


def test_evaluation_episodes_average_into_evaluations_of_the_current_guide_step_only():
    averager = EvaluationAverager(episodes=2, metric="success_rate")
    assert averager.add(5, 5, total_return=1.0, success=True) is None
    assert averager.add(5, 5, total_return=0.0, success=False) == 0.5
    assert averager.add(5, 3, 1.0, True) is None  # ran at an older stage's h: never counts
    assert averager.add(3, 3, 1.0, True) is None
    assert averager.add(3, 3, 1.0, True) == 1.0
    returns = EvaluationAverager(episodes=1, metric="return")
    assert returns.add(0, 0, total_return=-4.0, success=False) == -4.0


def test_a_stage_change_discards_a_half_collected_evaluation():
    averager = EvaluationAverager(episodes=2, metric="return")
    assert averager.add(4, 4, 1.0, True) is None
    assert averager.add(2, 2, 0.0, False) is None  # the curriculum moved on: start afresh
    assert averager.add(2, 2, 0.5, False) == 0.25
