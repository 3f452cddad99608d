"""The real arm's measurements without ROS: which joint_states are usable, where the axes' positions
come from, and when an observation may be taken."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jsrl_ros.contract.conversions import MalformedMessage
from jsrl_ros.real_arm.sensors import ArmSensors

AXES, FINGERS = ["x", "y", "z", "yaw"], ["finger_left", "finger_right"]


def test_joint_states_need_finite_positions_of_every_joint_in_use() -> None:
    cartesian = ArmSensors(AXES, FINGERS, pose_topic="", camera_topic="", twist=True)
    assert cartesian.position() is None
    cartesian.update_joints(["other", *AXES, *FINGERS], [9.0, 0.5, 0.1, 0.2, 0.3, 0.01, 0.02], now=1.0)
    assert list(cartesian.position()) == [0.5, 0.1, 0.2, 0.3] and cartesian.opening() == pytest.approx(0.03)
    for names, positions in ((AXES + FINGERS[:1], [0.5, 0.1, 0.2, 0.3, 0.01]),  # a finger missing
                             (AXES + FINGERS, [0.5, math.nan, 0.2, 0.3, 0.01, 0.02]),
                             (AXES + FINGERS, [0.5, 0.1, 0.2, 0.3, 0.01])):  # fewer positions than names
        with pytest.raises(MalformedMessage, match="needs finite positions"):
            cartesian.update_joints(names, positions, now=2.0)
    assert cartesian.joints_at == 1.0  # the last good message stands

    posed = ArmSensors(["joint1"], FINGERS, pose_topic="ee_pose", camera_topic="", twist=True)
    posed.update_joints(FINGERS, [0.01, 0.01], now=1.0)  # the axes come from the pose: no axis joints needed
    assert posed.position() is None
    posed.update_pose((0.5, 0.1, 0.2), (0.0, 0.0, math.sin(0.15), math.cos(0.15)), now=1.0)
    assert posed.position() == pytest.approx([0.5, 0.1, 0.2, 0.3])
    with pytest.raises(MalformedMessage, match="non-finite pose"):
        posed.update_pose((0.5, math.inf, 0.2), (0.0, 0.0, 0.0, 1.0), now=2.0)

    joint_mode = ArmSensors(AXES, FINGERS, pose_topic="ee_pose", camera_topic="", twist=False)
    with pytest.raises(MalformedMessage):
        joint_mode.update_joints(FINGERS, [0.01, 0.01], now=1.0)  # joint commands need the joints


def test_an_observation_waits_until_every_input_in_use_is_newer_than_the_motion() -> None:
    sensors = ArmSensors(AXES, FINGERS, pose_topic="ee_pose", camera_topic="camera", twist=True)
    sensors.update_joints(AXES + FINGERS, [0.5, 0.1, 0.2, 0.3, 0.01, 0.02], now=1.0)
    sensors.update_pose((0.5, 0.1, 0.2), (0.0, 0.0, 0.0, 1.0), now=1.0)
    sensors.update_frame("frame", now=0.5)
    assert not sensors.fresh_since(0.8)
    sensors.update_frame("frame", now=1.0)
    assert sensors.fresh_since(0.8) and not sensors.fresh_since(1.0)
    assert np.array_equal(sensors.grasp_pose(), sensors.pose)
    no_camera = ArmSensors(AXES, FINGERS, pose_topic="", camera_topic="", twist=True)
    no_camera.update_joints(AXES + FINGERS, [0.5, 0.1, 0.2, 0.3, 0.01, 0.02], now=1.0)
    assert no_camera.fresh_since(0.8) and not no_camera.fresh_since(1.0)
    assert list(no_camera.grasp_pose()) == [0.5, 0.1, 0.2, 0.3]
