"""What the real arm's drivers last reported, and when (no rclpy).

The axes' positions come from ``joint_states`` (a Cartesian arm, or joint mode) or from the
grasp point's pose (``ee_pose_topic``); the finger opening from the finger joints; the camera
frame is kept as it came. An observation is taken only from data that arrived after the step's
motion ended: :meth:`ArmSensors.fresh_since`. The axes' readings pass the safety layer's
:class:`jsrl_ros.real_arm.measured_state.MeasuredState` first: an implausible one is never kept.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jsrl_ros.contract.conversions import MalformedMessage
from jsrl_ros.real_arm.measured_state import MeasuredState
from jsrl_ros.real_arm.task import yaw_of_quaternion


class ArmSensors:
    """The latest joint positions, pose and camera frame, each with its arrival time (s; -1: never)."""

    def __init__(self, axis_joints: Sequence[str], finger_joints: Sequence[str], pose_topic: str,
                 camera_topic: str, twist: bool, measured: MeasuredState | None = None) -> None:
        """``pose_topic`` / ``camera_topic``: empty when the arm has no pose or camera input; ``twist``:
        the command space is the pose (x, y, z, yaw), else the joints; ``measured``: checks the axes'
        readings (raises Implausible)."""
        self.measured = measured
        self.axis_joints, self.finger_joints = list(axis_joints), list(finger_joints)
        self.uses_pose, self.uses_camera = bool(pose_topic), bool(camera_topic)
        self.axes_from_pose = twist and self.uses_pose
        self.needed = ([] if self.axes_from_pose else self.axis_joints) + self.finger_joints
        self.joints: dict[str, float] = {}
        self.pose: np.ndarray | None = None  # x, y, z, yaw
        self.frame: Any = None
        self.joints_at = self.pose_at = self.frame_at = -1.0

    def update_joints(self, names: Sequence[str], positions: Sequence[float], now: float) -> None:
        """A joint_states message; MalformedMessage unless it has finite positions of every needed joint."""
        values = dict(zip(names, positions))
        if len(names) != len(positions) or any(n not in values or not np.isfinite(values[n]) for n in self.needed):
            raise MalformedMessage(f"needs finite positions of {self.needed}, got names {list(names)}")
        if not self.axes_from_pose:
            self._check_axes(np.array([values[n] for n in self.axis_joints]), now)
        self.joints, self.joints_at = values, now

    def update_pose(self, position: Sequence[float], quaternion: Sequence[float], now: float) -> None:
        """The grasp point's (x, y, z) and orientation (x, y, z, w); MalformedMessage if not finite."""
        pose = np.array([*position, yaw_of_quaternion(*quaternion)])
        if not np.all(np.isfinite(pose)):
            raise MalformedMessage(f"non-finite pose {pose.tolist()}")
        if self.axes_from_pose:
            self._check_axes(pose, now)
        self.pose, self.pose_at = pose, now

    def _check_axes(self, axes: np.ndarray, now: float) -> None:
        if self.measured is not None:
            self.measured.accept(axes, now)

    def update_frame(self, frame: Any, now: float) -> None:
        self.frame, self.frame_at = frame, now

    def fresh_since(self, moment: float) -> bool:
        """Every input the observation needs arrived after ``moment``."""
        return self.joints_at > moment and (not self.uses_pose or self.pose_at > moment) \
            and (not self.uses_camera or self.frame_at > moment)

    def position(self) -> np.ndarray | None:
        """The axes' measured positions in the command space, or None before the first measurement."""
        if self.axes_from_pose:
            return self.pose
        if self.joints_at < 0:
            return None
        return self._axes()

    def grasp_pose(self) -> np.ndarray:
        """The grasp point's (x, y, z, yaw), measured (call once :meth:`fresh_since` holds)."""
        return self.pose if self.uses_pose else self._axes()

    def opening(self) -> float:
        """The fingers' opening: the sum of their positions."""
        return float(sum(self.joints[n] for n in self.finger_joints))

    def _axes(self) -> np.ndarray:
        return np.array([self.joints[n] for n in self.axis_joints])
