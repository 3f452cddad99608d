"""The guide-step schedule, the advance rules (the paper's literal one and the guide-referenced
default) on scripted evaluation sequences, and JSRL-Random."""
import json

import numpy as np
import pytest

from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.curriculum import Curriculum, CurriculumConfig, guide_steps


def test_guide_steps_go_from_h1_to_zero_in_n_equal_steps():
    assert guide_steps(100, 4) == [100, 75, 50, 25, 0]
    assert guide_steps(10.4, 3) == [10, 7, 3, 0]  # round(10.4 - k * 10.4 / 3)


def test_guide_steps_merge_repeats_when_h1_is_smaller_than_n():
    assert guide_steps(2, 5) == [2, 1, 0]
    assert guide_steps(0.2, 3) == [0]


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_guide_steps_reject_a_bad_number_of_stages(n):
    with pytest.raises(ConfigError, match="n"):
        guide_steps(10, n)


def test_n_stages_zero_in_a_config_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"cfg.yaml: n_stages must be a positive int"):
        from_mapping(CurriculumConfig, {"n_stages": 0}, "cfg.yaml")


def test_unknown_curriculum_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="toleranse"):
        from_mapping(CurriculumConfig, {"toleranse": 0.1}, "cfg.yaml")


def make(window=2, tolerance=0.1, mode="curriculum", stages=(30, 20, 10, 0)):
    """The paper's literal rule."""
    return Curriculum(CurriculumConfig(mode=mode, rule="paper", window=window, tolerance=tolerance), list(stages))


def test_no_advance_before_the_window_is_full():
    c = make(window=3)
    assert not c.record_evaluation(1.0)
    assert not c.record_evaluation(1.0)
    assert c.moving_average() is None and c.best is None
    assert c.record_evaluation(1.0)  # first full window is the best so far: advance
    assert c.stage == 1 and c.guide_step == 20


def test_advance_needs_the_moving_average_within_tolerance_of_the_best():
    c = make(window=2, tolerance=0.1)
    c.record_evaluation(10.0)
    assert c.record_evaluation(10.0)          # best = 10, stage 1
    c.record_evaluation(8.0)
    assert not c.record_evaluation(8.5)       # 8.25 < 10 - 1
    assert not c.record_evaluation(8.9)       # window now (8.5, 8.9): 8.7 < 9
    assert c.record_evaluation(9.3)           # (8.9, 9.3): 9.1 >= 9
    assert c.stage == 2 and c.best == 10.0


def test_window_restarts_at_each_stage():
    c = make(window=2, tolerance=0.0)
    c.record_evaluation(5.0)
    c.record_evaluation(5.0)  # advance
    assert list(c.window) == []
    assert not c.record_evaluation(5.0)  # one value at the new stage is not a full window


def test_negative_returns_use_abs_best():
    c = make(window=1, tolerance=0.1)
    assert c.record_evaluation(-100.0)        # best = -100
    assert not c.record_evaluation(-111.0)    # threshold -100 - 10 = -110
    assert c.record_evaluation(-109.0)
    assert c.best == -100.0


def test_best_is_never_lowered_and_rises_with_better_stages():
    c = make(window=1, tolerance=0.5)
    c.record_evaluation(10.0)
    assert c.record_evaluation(6.0)           # within 50 %: advances ...
    assert c.best == 10.0                     # ... but best stays 10
    assert c.record_evaluation(12.0)
    assert c.best == 12.0


def test_done_at_the_last_stage_and_no_further_advance():
    c = make(window=1, tolerance=0.0, stages=(5, 0))
    assert not c.done
    assert c.record_evaluation(1.0)
    assert c.done and c.guide_step == 0
    assert not c.record_evaluation(2.0)
    assert c.stage == 1


def test_curriculum_mode_uses_the_current_stage():
    c = make()
    rng = np.random.default_rng(0)
    assert {c.guide_step_for_episode(rng) for _ in range(20)} == {30}


def test_random_mode_draws_every_stage_including_the_explorer_alone_and_never_advances():
    c = make(mode="random", window=1, tolerance=1.0)
    rng = np.random.default_rng(0)
    draws = [c.guide_step_for_episode(rng) for _ in range(400)]
    assert set(draws) == {30, 20, 10, 0}
    counts = np.bincount([[30, 20, 10, 0].index(h) for h in draws])
    assert counts.min() > 70  # roughly uniform (100 expected each)
    assert not any(c.record_evaluation(v) for v in (1.0, 5.0, 9.0))
    assert c.stage == 0


def test_state_dict_is_json_and_restores_mid_curriculum():
    c = make(window=3, tolerance=0.1)
    for v in (4.0, 4.0, 4.0, 3.0, 3.5):
        c.record_evaluation(v)
    state = json.loads(json.dumps(c.state_dict()))
    restored = make(window=3, tolerance=0.1, stages=(99, 0))
    restored.load_state_dict(state)
    assert restored.state_dict() == c.state_dict()
    for v in (3.7, 3.9, 4.0):
        assert restored.record_evaluation(v) == c.record_evaluation(v)
    assert restored.state_dict() == c.state_dict()


def test_state_from_another_mode_is_refused():
    c = make(mode="random")
    with pytest.raises(ValueError, match="mode"):
        make().load_state_dict(c.state_dict())


def test_non_finite_evaluation_is_refused():
    with pytest.raises(ValueError, match="finite"):
        make().record_evaluation(float("nan"))


def test_last_average_reports_the_average_that_triggered_an_advance():
    c = make(window=2, tolerance=0.0)
    c.record_evaluation(3.0)
    assert c.last_average is None
    assert c.record_evaluation(5.0)
    assert c.last_average == 4.0 and c.moving_average() is None  # the window restarted


# ----- the paper rule's failures, and the guide rule on the same sequences ------------------

def guide_rule(reference=None, window=3, guide_tolerance=0.2, stages=(8, 6, 4, 2, 0)):
    config = CurriculumConfig(window=window, guide_tolerance=guide_tolerance, reference=reference)
    return Curriculum(config, list(stages))


def feed(c, values, explorer=None):
    explorer = explorer or [None] * len(values)
    return [c.record_evaluation(v, e) for v, e in zip(values, explorer)]


def test_paper_rule_hands_over_on_zeros_and_the_guide_rule_does_not():
    paper = Curriculum(CurriculumConfig(rule="paper", window=3), [8, 6, 4, 2, 0])
    feed(paper, [0.0] * 12)
    assert paper.stage == 4  # every full window of zeros passed: handed over at 0 % success
    for reference in (None, 0.0, 0.9):
        c = guide_rule(reference=reference)
        feed(c, [0.0] * 30)
        assert c.stage == 0


def test_paper_rule_passes_stage_zero_on_its_first_window_and_the_guide_rule_waits_for_a_bar():
    paper = Curriculum(CurriculumConfig(rule="paper", window=3), [8, 6, 4, 2, 0])
    assert feed(paper, [0.3, 0.3, 0.3]) == [False, False, True]
    c = guide_rule()  # no measured reference: the first full window sets it, without passing
    assert feed(c, [0.8, 0.8, 0.8]) == [False, False, False]
    assert c.reference == pytest.approx(0.8) and c.stage == 0
    assert feed(c, [0.7, 0.7, 0.7]) == [False, False, True]  # 0.7 >= 0.8 - 0.2 * 0.8


def test_paper_rule_stalls_after_a_lucky_window_and_the_guide_rule_does_not():
    # A policy truly at ~0.7 measured with noise: one lucky window of 0.95 sets the paper's best.
    rng = np.random.default_rng(0)
    lucky = [0.95, 0.95, 0.95]
    noisy = list(np.clip(rng.normal(0.7, 0.05, 60), 0, 1))
    paper = Curriculum(CurriculumConfig(rule="paper", window=3), [8, 6, 4, 2, 0])
    feed(paper, lucky + noisy)
    assert paper.stage == 1  # stuck: 0.7 never comes within 5 % of 0.95
    c = guide_rule(reference=0.8)
    feed(c, lucky + noisy)
    assert c.done


def test_guide_rule_follows_a_real_climb_stage_by_stage():
    c = guide_rule(reference=0.9)
    # each stage first dips below the bar (0.72), then the explorer catches up
    for stage in range(4):
        assert feed(c, [0.5, 0.6, 0.6]) == [False, False, False]
        assert any(feed(c, [0.8, 0.8, 0.8]))
        assert c.stage == stage + 1
    assert c.done and c.guide_step == 0
    assert not any(feed(c, [1.0] * 6))  # nothing after the last stage


def test_guide_rule_never_lowers_its_bar_on_noise():
    c = guide_rule(reference=0.9)
    feed(c, [0.2] * 9 + [1.0] * 3)
    assert c.reference == 0.9 and c.threshold == pytest.approx(0.72)
    assert c.stage == 1


def test_guide_rule_jumps_to_the_explorer_alone_once_it_reaches_the_bar():
    c = guide_rule(reference=0.9)
    # the combined policy sits below the bar, but the explorer alone is already good enough
    assert feed(c, [0.6] * 3, explorer=[0.8] * 3) == [False, False, True]
    assert c.done and c.guide_step == 0
    paper = Curriculum(CurriculumConfig(rule="paper", window=3), [8, 6, 4, 2, 0])
    feed(paper, [0.6, 0.6, 0.6], explorer=[1.0] * 3)
    assert paper.stage == 1  # the paper rule looks only at the combined policy


def test_guide_rule_needs_the_average_above_the_floor():
    c = Curriculum(CurriculumConfig(window=2, reference=0.1, guide_tolerance=1.0, floor=0.05), [4, 0])
    assert not any(feed(c, [0.05, 0.05]))
    assert any(feed(c, [0.1, 0.1]))


def test_guide_rule_state_round_trips_through_json_with_its_reference():
    c = guide_rule()
    feed(c, [0.8, 0.8, 0.8, 0.7], explorer=[0.1, 0.2, 0.3, 0.4])  # the reference's window is cleared
    state = json.loads(json.dumps(c.state_dict()))
    restored = guide_rule()
    restored.load_state_dict(state)
    assert restored.reference == c.reference and list(restored.explorer_window) == [0.4]
    assert feed(restored, [0.7, 0.7], [0.0, 0.0]) == feed(c, [0.7, 0.7], [0.0, 0.0])
    with pytest.raises(ValueError, match="saved rule 'guide' != configured 'paper'"):
        Curriculum(CurriculumConfig(rule="paper", window=3), [8, 6, 4, 2, 0]).load_state_dict(state)


def test_bad_rule_settings_are_named():
    for data, key in (({"rule": "best"}, "rule"), ({"guide_tolerance": 1.5}, "guide_tolerance"),
                      ({"reference": float("nan")}, "reference")):
        with pytest.raises(ConfigError, match=key):
            from_mapping(CurriculumConfig, data, "cfg.yaml")


@pytest.mark.parametrize("changes, named", [
    ({"best": float("inf")}, "best must be a finite number"), ({"reference": float("nan")}, "reference must be"),
    ({"window": [0.5, float("inf")]}, "window must be a list of finite numbers"),
    ({"explorer_window": "0.5"}, "explorer_window must be"), ({"stage": 7}, "stage must be an int in 0..4"),
    ({"stage": -1}, "stage must be"), ({"stage": "1"}, "stage must be"), ({"stage": True}, "stage must be"),
    ({"stages": [8, 8, 0]}, "stages must be a list of strictly decreasing"), ({"stages": []}, "stages must be"),
    ({"stages": [8.5, 0]}, "stages must be"), ({"best": "high"}, "best must be"), ({"windows": []}, "unknown key"),
])
def test_a_saved_state_of_the_wrong_type_or_range_is_refused_naming_the_key(changes, named):
    """``"best": Infinity`` (from 1e308 evaluations) once froze the curriculum, even across restarts."""
    c = guide_rule()
    feed(c, [0.8, 0.8, 0.8, 0.7])
    state = {**json.loads(json.dumps(c.state_dict())), **changes}
    fresh = guide_rule()
    with pytest.raises(ValueError, match=named):
        fresh.load_state_dict(state)
    assert fresh.state_dict() == guide_rule().state_dict()  # nothing half-loaded
    with pytest.raises(ValueError, match="must be a mapping"):
        fresh.load_state_dict([state])
