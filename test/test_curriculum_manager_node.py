"""Contract of the curriculum manager node, over real rclpy."""
from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Int32, Int32MultiArray

from jsrl_learning.config import ConfigError
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.nodes.curriculum_manager import CurriculumManager

CLOCK = StepClock(0.1)


def _manager(ros, state_file: Path, mode: str = "curriculum", rule: str = "paper") -> CurriculumManager:
    params = [Parameter("mode", value=mode), Parameter("rule", value=rule), Parameter("h1", value=10.0),
              Parameter("n_stages", value=2),
              Parameter("window", value=2), Parameter("tolerance", value=0.1),
              Parameter("state_file", value=str(state_file))]
    return ros.add(CurriculumManager(context=ros.context, parameter_overrides=params))


def _listen(ros) -> tuple[list[int], Any]:
    """A probe that records the latched guide-steps and publishes evaluations."""
    probe = ros.node("probe")
    steps: list[int] = []
    probe.create_subscription(Int32, "jsrl/guide_step", lambda m: steps.append(m.data), LATCHED)
    return steps, probe.create_publisher(Float64, "jsrl/evaluation", RELIABLE)


def test_advances_latches_drops_malformed_and_resumes(ros, tmp_path: Path) -> None:
    state_file = tmp_path / "curriculum.json"
    manager = _manager(ros, state_file)
    steps, evaluations = _listen(ros)

    assert ros.spin_until(lambda: steps == [10]), steps  # latched: a late subscriber gets it
    assert ros.spin_until(lambda: evaluations.get_subscription_count() == 1)
    for value in (0.8, math.nan, 0.9):
        evaluations.publish(Float64(data=value))
    assert ros.spin_until(lambda: steps == [10, 5]), steps
    assert manager.dropped == 1
    assert json.loads(state_file.read_text())["stage"] == 1

    ros.remove(manager)
    _manager(ros, state_file)
    late: list[int] = []
    ros.node("late").create_subscription(Int32, "jsrl/guide_step", lambda m: late.append(m.data), LATCHED)
    assert ros.spin_until(lambda: late == [5]), late


def test_random_mode_publishes_every_stage_as_choices(ros, tmp_path: Path) -> None:
    _manager(ros, tmp_path / "c.json", mode="random")
    choices: list[list[int]] = []
    ros.node("probe").create_subscription(Int32MultiArray, "jsrl/guide_step_choices",
                                          lambda m: choices.append(list(m.data)), LATCHED)
    assert ros.spin_until(lambda: choices == [[10, 5, 0]]), choices


def test_guide_rule_never_hands_over_on_zeros_and_passes_at_the_guides_bar(ros, tmp_path: Path) -> None:
    manager = _manager(ros, tmp_path / "c.json", rule="guide")  # reference unset: stage 0's first window
    steps, evaluations = _listen(ros)
    assert ros.spin_until(lambda: steps == [10] and evaluations.get_subscription_count() == 1)
    for value in (0.9, 0.9, 0.0, 0.0, 0.0, 0.0):  # the bar is 0.9 - 0.2 * 0.9 = 0.72
        evaluations.publish(Float64(data=value))
    assert ros.spin_until(lambda: len(manager.curriculum.window) == 2 and manager.curriculum.window[0] == 0.0)
    assert manager.curriculum.reference == 0.9 and steps == [10]
    for value in (0.8, 0.8):
        evaluations.publish(Float64(data=value))
    assert ros.spin_until(lambda: steps == [10, 5]), steps


def test_evaluation_episodes_from_summaries_are_averaged_into_evaluations(ros, tmp_path: Path) -> None:
    params = [Parameter("rule", value="paper"), Parameter("h1", value=10.0), Parameter("n_stages", value=2),
              Parameter("window", value=1),
              Parameter("tolerance", value=0.0), Parameter("eval_episodes", value=2),
              Parameter("metric", value="success_rate")]
    manager = ros.add(CurriculumManager(context=ros.context, parameter_overrides=params))
    probe = ros.node("probe")
    steps: list[int] = []
    probe.create_subscription(Int32, "jsrl/guide_step", lambda m: steps.append(m.data), LATCHED)
    summaries = probe.create_publisher(JointState, "jsrl/episode_summary", RELIABLE)
    assert ros.spin_until(lambda: steps == [10] and summaries.get_subscription_count() == 1)

    def summary(episode: int, guide_step: int, evaluation: bool, success: bool, names=EPISODE_SUMMARY_NAMES):
        values = [episode, guide_step, evaluation, float(success), success, 4]
        summaries.publish(named_vector(names, values, CLOCK.stamp(episode, 4)))

    summary(0, 10, False, True)  # training episodes never count
    summary(1, 10, True, True)
    summary(2, 10, True, False, names=["episode", "h"])  # malformed: dropped
    summary(3, 10, True, False)  # 2 evaluation episodes: mean 0.5 is the first evaluation -> advance
    assert ros.spin_until(lambda: steps == [10, 5]), steps
    assert manager.dropped == 1
    summary(4, 10, True, True)  # an evaluation of the old stage, finished after the advance: ignored
    summary(5, 5, True, False)
    summary(6, 5, True, False)  # mean 0 < best 0.5: stay
    summary(7, 5, True, False, names=["marker"])  # in order behind the others: once dropped, they were seen
    assert ros.spin_until(lambda: manager.dropped == 2)
    assert manager.curriculum.stage == 1 and manager.curriculum.last_average == 0.0
    summary(8, 5, True, True)
    summary(9, 5, True, True)  # mean 1 >= best: advance to the explorer alone
    assert ros.spin_until(lambda: steps == [10, 5, 0]), steps


def test_evaluations_outside_the_tasks_range_are_dropped_and_the_curriculum_still_advances(ros, tmp_path) -> None:
    """1e308 three times once gave "best": Infinity in the state file, and no advance ever after."""
    state_file = tmp_path / "curriculum.json"
    manager = _manager(ros, state_file)
    steps, evaluations = _listen(ros)
    assert ros.spin_until(lambda: steps == [10] and evaluations.get_subscription_count() == 1)
    for value in (1e308, 1e308, 1e308, -0.5, 1.5, 0.8, 0.9):  # success rates: [0, 1]
        evaluations.publish(Float64(data=value))
    assert ros.spin_until(lambda: steps == [10, 5]), steps
    assert manager.dropped == 5 and json.loads(state_file.read_text())["best"] == pytest.approx(0.85)


def test_summaries_the_recorder_never_writes_are_dropped(ros, tmp_path: Path) -> None:
    params = [Parameter("rule", value="paper"), Parameter("h1", value=10.0), Parameter("n_stages", value=2),
              Parameter("window", value=1), Parameter("eval_episodes", value=1), Parameter("metric", value="return"),
              Parameter("evaluation_range", value=[0.0, 5.0])]
    manager = ros.add(CurriculumManager(context=ros.context, parameter_overrides=params))
    summaries = ros.node("probe").create_publisher(JointState, "jsrl/episode_summary", RELIABLE)
    assert ros.spin_until(lambda: summaries.get_subscription_count() == 1)
    bad = [[0, 10, 1, 1e308, 1, 4], [1, 10, 1, -1, 0, 4], [2, -10, 1, 1, 1, 4], [3, 10, 0.5, 1, 1, 4],
           [4, 10, 1, 1, 2, 4], [5, 10, 1, 1, 1, 0], [6, 10.5, 1, 1, 1, 4]]
    for values in bad:
        summaries.publish(named_vector(EPISODE_SUMMARY_NAMES, values, CLOCK.stamp(int(values[0]), 4)))
    assert ros.spin_until(lambda: manager.dropped == len(bad)) and manager.curriculum.window == deque([])
    summaries.publish(named_vector(EPISODE_SUMMARY_NAMES, [7, 10, 1, 4.5, 1, 4], CLOCK.stamp(7, 4)))
    assert ros.spin_until(lambda: manager.curriculum.stage == 1) and manager.dropped == len(bad)


@pytest.mark.parametrize("content, named", [
    ("{not json", "Expecting property name"), ('[1, 2]', "must be a mapping"),
    ('{"stages": [10, 5, 0], "stage": 1, "best": Infinity, "reference": null, "window": [], "mode": "curriculum", '
     '"rule": "paper"}', "best must be a finite number"),
    ('{"stages": [10, 5, 0], "stage": 3, "best": null, "reference": null, "window": [], "mode": "curriculum", '
     '"rule": "paper"}', "stage must be an int in 0..2"),
    ('{"stages": [10, 5, 0], "stage": 1, "best": 7.5, "reference": null, "window": [0.5], "mode": "curriculum", '
     '"rule": "paper"}', r"scores \[7.5\] outside evaluation_range \[0, 1\]"),
    (b"\xff\xfe", "codec can't decode"),
])
def test_a_corrupt_state_file_is_a_config_error_naming_it_at_start(ros, tmp_path: Path, content, named) -> None:
    state_file = tmp_path / "curriculum.json"
    state_file.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=f"{state_file}: .*{named}"):
        _manager(ros, state_file)


@pytest.mark.parametrize("params, named", [
    ({"state_file": "a_file/curriculum.json"}, "state_file: .*a_file is not a writable folder"),
    ({"evaluation_range": [1.0, 0.0]}, "evaluation_range must be .low, high."),
    ({"evaluation_range": [0.0, math.inf]}, "evaluation_range must be"),
    ({"evaluation_range": [0.0, 2.0], "metric": "success_rate"}, r"evaluation_range must lie in \[0, 1\]"),
])
def test_bad_state_file_folders_and_evaluation_ranges_are_config_errors(ros, tmp_path: Path, params, named) -> None:
    (tmp_path / "a_file").write_text("")
    values = {**params, "state_file": str(tmp_path / params.get("state_file", "c.json"))}
    overrides = [Parameter("h1", value=10.0), *(Parameter(k, value=v) for k, v in values.items())]
    with pytest.raises(ConfigError, match=named):
        ros.add(CurriculumManager(context=ros.context, parameter_overrides=overrides))


def test_parameters_are_the_curriculum_configs_fields_with_its_defaults(ros, tmp_path: Path) -> None:
    import dataclasses

    from jsrl_learning.curriculum import CurriculumConfig

    manager = ros.add(CurriculumManager(context=ros.context, parameter_overrides=[Parameter("h1", value=10.0)]))
    for field in dataclasses.fields(CurriculumConfig):
        if field.name in ("h1", "h1_rollouts"):  # h1 is given here; the node never estimates it
            continue
        value = manager.get_parameter(field.name).value
        assert (math.isnan(value) if field.default is None else value == field.default), field.name
    assert manager.curriculum.config.window == CurriculumConfig().window  # no drifting copy of a default


def test_h1_must_be_given(ros) -> None:
    with pytest.raises(ConfigError, match="h1 must be set"):
        ros.add(CurriculumManager(context=ros.context))
