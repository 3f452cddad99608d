"""The real-arm task pieces without ROS: proprio layout, grasp detector, reward source, fake arm kinematics."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jsrl_ros.real_arm.fake_arm_model import FakeObject, KinematicArm
from jsrl_ros.real_arm.task import GraspDetector, outcome, proprio, step_delta, yaw_of_quaternion


def test_proprio_matches_the_sims_image_mode_layout() -> None:
    vector = proprio(z=0.1, yaw=math.pi / 4, opening=0.04, t=3, max_steps=15, floor_z=0.02, max_opening=0.08)
    assert vector.dtype == np.float32 and vector.shape == (7,)
    assert vector.tolist() == pytest.approx([0.08, 0.5, 0.5, 0.2, 0.0, 0.0, 0.0])
    folded = proprio(z=0.1, yaw=math.pi * 0.75, opening=0.0, t=0, max_steps=15, floor_z=0.0, max_opening=0.08)
    assert folded[1] == pytest.approx(-0.5)  # a half turn is the same grasp: folded into [-pi/2, pi/2)


def test_step_delta_and_yaw() -> None:
    assert step_delta([1.0, -0.5, 0.0, 1.0], [0.05, 0.05, 0.05, 0.3]).tolist() == pytest.approx([0.05, -0.025, 0, 0.3])
    half = math.sqrt(0.5)
    assert yaw_of_quaternion(0.0, 0.0, half, half) == pytest.approx(math.pi / 2)


def test_grasp_detector_and_reward_source() -> None:
    detector = GraspDetector(0.005, 0.075)
    assert detector(0.03) and not detector(0.001) and not detector(0.08)
    with pytest.raises(ValueError):
        GraspDetector(0.05, 0.01)
    assert outcome(True, "", "detector") == (1.0, True)
    assert outcome(True, "failure", "detector") == (1.0, True)
    assert outcome(True, "failure", "label") == (0.0, True)  # the human overrules; the detector is kept
    assert outcome(False, "success", "label") == (1.0, False)
    assert outcome(False, "", "label") == (0.0, False)  # no label: the detector


def test_the_fake_arm_moves_as_commanded_and_its_fingers_stop_at_the_object() -> None:
    arm = KinematicArm(np.array([0.55, 0.0, 0.2, 0.0]), finger_open=0.04, finger_speed=0.2,
                       obj=FakeObject(xy=(0.55, 0.0), width=0.03, height=0.05))
    arm.command_velocity(np.array([0.0, 0.0, -0.5, 0.0]))
    for _ in range(32):
        arm.advance(0.01)
    assert arm.position[2] == pytest.approx(0.04)
    arm.command_velocity(np.zeros(4))
    arm.command_fingers(np.zeros(2))
    for _ in range(50):
        arm.advance(0.01)
    assert arm.held and arm.opening == pytest.approx(0.03)
    arm.command_target(np.array([0.55, 0.0, 0.3, 0.0]), 0.5)
    for _ in range(60):
        arm.advance(0.01)
    assert arm.position[2] == pytest.approx(0.3) and arm.opening == pytest.approx(0.03)  # still held
    arm.command_fingers(np.full(2, 0.04))
    arm.advance(0.01)
    assert not arm.held
    empty = KinematicArm(np.array([0.6, 0.1, 0.04, 0.0]), 0.04, 0.2, FakeObject(xy=(0.55, 0.0)))
    empty.command_fingers(np.zeros(2))
    for _ in range(50):
        empty.advance(0.01)
    assert not empty.held and empty.opening == 0.0
