"""The real-arm bridge's episode cycle without ROS: a kinematic arm obeys its commands on a fake clock,
and the tests play the policy and the operator."""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pytest
from real_arm_helpers import CLOCK, ParameterSource

from jsrl_ros.contract.names import STEP_NAMES
from jsrl_ros.contract.step_clock import stamp_key
from jsrl_ros.real_arm.config import RealArmConfig
from jsrl_ros.real_arm.fake_arm_model import FakeObject, KinematicArm
from jsrl_ros.real_arm.grasp_cycle import ACT, EPISODE, HOMING, WAIT, GraspCycle, Observation
from jsrl_ros.real_arm.motion import ArmMotion, Command, Velocity
from jsrl_ros.real_arm.safety import ESTOP
from jsrl_ros.real_arm.sensors import ArmSensors

DOWN = [0.0, 0.0, -1.0, 0.0, -1.0]
GRASP = [0.0, 0.0, 0.0, 0.0, 1.0]
FRAME = object()  # the camera frame, passed through untouched


class Rig:
    """GraspCycle wired to a kinematic arm: the cycle's commands move the arm, the arm's positions
    (and a camera frame) come back as measurements every control tick."""

    def __init__(self, start: Sequence[float] = (0.6, 0.05, 0.2, 0.3), **params: Any) -> None:
        self.cfg = cfg = RealArmConfig(ParameterSource(**params))
        twist = cfg.mode == "twist"
        self.sensors = ArmSensors(cfg.axis_joints, cfg.finger_joints, cfg.pose_topic, cfg.camera_topic, twist,
                                  cfg.safety.measured)
        motion = ArmMotion(twist, cfg.safety, cfg.dt, cfg.command_hold, 1.0 / cfg.command_rate)
        self.arm = KinematicArm(np.asarray(start), finger_open=0.04, finger_speed=0.2,
                                obj=FakeObject(xy=(0.55, 0.0), width=0.03, height=0.05))
        self.cycle = GraspCycle(cfg, self.sensors, motion, self, logging.getLogger("test_grasp_cycle"))
        self.now = 0.0
        self.observations: dict[tuple[int, int], list[Observation]] = {}
        self.order: list[tuple[int, int]] = []
        self.commands: list[Command] = []

    # CycleOutputs
    def publish_gripper(self, command: Sequence[float]) -> None:
        self.arm.command_fingers(np.asarray(command))

    def publish_command(self, command: Command, now: float) -> None:
        self.commands.append(command)
        if isinstance(command, Velocity):
            self.arm.command_velocity(command.values)
        else:
            self.arm.command_target(command.positions, command.duration)

    def publish_observation(self, observation: Observation) -> None:
        ident = CLOCK.identity(observation.stamp)
        self.order.append(ident)
        self.observations.setdefault(ident, []).append(observation)

    # the node's part
    def tick(self) -> None:
        period = 1.0 / self.cfg.command_rate
        self.arm.advance(period)
        self.now += period
        self.sensors.update_joints(self.cfg.axis_joints + self.cfg.finger_joints,
                                   [*self.arm.position, *self.arm.fingers], self.now)
        self.sensors.update_frame(FRAME, self.now)
        reason = self.cycle.stop_reason(self.now)
        if reason != ESTOP:
            self.cycle.advance(self.now, reason)
        self.cycle.command(self.now)

    def run_until(self, condition, seconds: float = 10.0) -> None:
        for _ in range(int(seconds * self.cfg.command_rate)):
            if condition():
                return
            self.tick()
        assert condition(), f"not within {seconds} s (phase {self.cycle.phase})"

    def wait(self, seconds: float) -> None:
        for _ in range(int(seconds * self.cfg.command_rate)):
            self.tick()

    def act(self, action: Sequence[float], ident: tuple[int, int] | None = None) -> None:
        ident = ident or self.order[-1]
        self.cycle.on_action(stamp_key(CLOCK.stamp(*ident)), np.asarray(action, dtype=float), self.now)

    def step(self, action: Sequence[float]) -> tuple[int, int]:
        """Answer the latest observation; returns the identity of the next one."""
        before = len(self.order)
        self.act(action)
        self.run_until(lambda: len(self.order) > before or self.cycle.phase == WAIT)
        return self.order[-1]

    def outcome(self, ident: tuple[int, int]) -> dict[str, float]:
        return dict(zip(STEP_NAMES, self.observations[ident][-1].outcome))


def test_the_operator_confirms_homing_and_the_scene_then_each_step_reports_its_outcome() -> None:
    rig = Rig(auto_confirm=False)
    rig.cycle.start(rig.now)
    rig.wait(0.5)
    assert rig.cycle.phase == WAIT and not any(np.any(c.values) for c in rig.commands)  # nothing moves yet
    assert rig.cycle.operator_reset(rig.now) == (True, "confirmed: homing")
    rig.run_until(lambda: rig.cycle.phase == WAIT)
    assert rig.cycle.after_wait == EPISODE and rig.order == []
    assert np.allclose(rig.arm.position, rig.cfg.home, atol=rig.cfg.home_tolerance)
    assert rig.cycle.operator_reset(rig.now) == (True, "confirmed: episode")
    rig.run_until(lambda: (0, 0) in rig.observations)  # taken from measurements newer than the go-ahead
    first = rig.observations[(0, 0)][0]
    assert first.outcome is None and first.frame is FRAME and rig.cycle.phase == ACT
    before = rig.arm.position.copy()
    assert rig.step([1.0, 0.0, -0.5, 0.0, -1.0]) == (0, 1)
    rig.wait(0.3)  # (the twist stream's last part, slower than the step)
    moved = rig.arm.position - before
    assert moved == pytest.approx(np.array([1.0, 0.0, -0.5, 0.0]) * rig.cfg.action_scale, abs=2e-3)
    assert rig.outcome((0, 1)) == {"episode": 0, "step": 1, "reward": 0.0, "terminated": 0.0, "truncated": 0.0,
                                   "success": 0.0}
    assert rig.observations[(0, 1)][0].proprio[3] == pytest.approx(1 / rig.cfg.max_steps)  # t / max_steps


@pytest.mark.parametrize("source, label, reward, unlabelled", [("detector", "failure", 1.0, 0),
                                                               ("label", "failure", 0.0, 0),
                                                               ("label", "", 1.0, 1)])
def test_a_grasp_ends_the_episode_and_its_end_waits_for_the_operator_and_the_label(
        source: str, label: str, reward: float, unlabelled: int) -> None:
    rig = Rig(auto_confirm=False, reward_source=source)
    rig.cycle.start(rig.now)
    rig.cycle.operator_reset(rig.now)
    rig.run_until(lambda: rig.cycle.after_wait == EPISODE)
    rig.cycle.operator_reset(rig.now)
    rig.run_until(lambda: (0, 0) in rig.observations)
    for _ in range(5):
        rig.step(DOWN)  # onto the object
    rig.step(GRASP)  # close, lift, judge, home
    rig.run_until(lambda: rig.cycle.phase == WAIT and rig.cycle.after_wait == EPISODE)
    assert rig.cycle.outcomes.detected
    assert (0, 6) not in rig.observations  # the end is held for the label
    rig.cycle.outcomes.set_label(label)
    rig.cycle.operator_reset(rig.now)
    rig.run_until(lambda: (1, 0) in rig.observations)
    assert rig.order[-2:] == [(0, 6), (1, 0)]
    assert rig.outcome((0, 6)) == {"episode": 0, "step": 6, "reward": reward, "terminated": 1.0, "truncated": 0.0,
                                   "success": 1.0}
    assert rig.cycle.outcomes.unlabelled == unlabelled and rig.cycle.outcomes.label == ""


def test_max_steps_truncates_and_the_next_episode_begins_on_its_own_with_auto_confirm() -> None:
    rig = Rig(max_steps=3)
    rig.cycle.start(rig.now)
    rig.run_until(lambda: (0, 0) in rig.observations)
    for _ in range(3):
        rig.step(DOWN)
    rig.run_until(lambda: (1, 0) in rig.observations)
    assert rig.order == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert rig.outcome((0, 3))["truncated"] == 1.0 and rig.outcome((0, 3))["terminated"] == 0.0
    assert np.allclose(rig.arm.position, rig.cfg.home, atol=rig.cfg.home_tolerance)  # homed in between


def test_actions_for_another_step_are_stale_and_answers_to_an_abandoned_episode_are_moot() -> None:
    rig = Rig()
    rig.cycle.start(rig.now)
    rig.run_until(lambda: (0, 0) in rig.observations)
    rig.act(DOWN, ident=(0, 5))
    assert rig.cycle.stale == 1 and rig.cycle.phase == ACT
    assert rig.cycle.operator_reset(rig.now) == (True, "episode 0 ended at step 0; homing")
    assert rig.cycle.phase == HOMING
    rig.act(DOWN, ident=(0, 0))  # the policy answers the abandoned observation
    assert rig.cycle.stale == 1 and rig.cycle.phase == HOMING
    rig.run_until(lambda: (1, 0) in rig.observations)
    assert all(o.outcome is None for o in rig.observations[(1, 0)])  # an abandoned episode reports no end


def test_silence_stops_the_arm_and_resends_the_observation_unchanged() -> None:
    rig = Rig(**{"safety.watchdog_timeout": 0.3})
    rig.cycle.start(rig.now)
    rig.run_until(lambda: (0, 0) in rig.observations)
    rig.step(DOWN)
    rig.run_until(lambda: rig.cycle.republished >= 2, 2.0)
    resent = rig.observations[(0, 1)]
    assert len(resent) == 3 and all(o is resent[0] for o in resent)
    still = rig.arm.position.copy()
    rig.wait(0.5)
    assert np.array_equal(rig.arm.position, still) and rig.cycle.phase == ACT
    assert rig.step(DOWN) == (0, 2)  # a late action still counts
