"""A kinematic arm for testing the real-arm graph without a robot (no rclpy).

The arm's axes move exactly as commanded — by a velocity (what MoveIt Servo does with a twist)
or along a straight segment to a joint target in a given time (what a joint_trajectory_controller
does with a one-point trajectory) — and two fingers move toward their commanded positions at a
finite speed. One object stands on the floor: fingers closing around it (grasp point within
``reach`` of it horizontally, below its top) stop at its width, so a grasp can succeed or fail.
The node (``jsrl_ros/nodes/fake_arm.py``) adds latency, measurement noise and the ROS interfaces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FakeObject:
    xy: tuple[float, float] = (0.55, 0.0)  # m, in the arm's (x, y)
    width: float = 0.03  # m between the fingers when held
    height: float = 0.05  # m: its top above z = 0
    reach: float = 0.015  # m: how far off-centre the grasp point may be and still enclose it


class KinematicArm:
    """Axes ``position`` (x, y, z, yaw for a Cartesian arm) and two finger positions (m each)."""

    def __init__(self, initial: np.ndarray, finger_open: float, finger_speed: float,
                 obj: FakeObject | None = None) -> None:
        self.position = np.asarray(initial, dtype=np.float64).copy()
        self.velocity = np.zeros_like(self.position)
        self.fingers = np.full(2, finger_open)
        self.finger_target = self.fingers.copy()
        self.finger_speed = finger_speed
        self.obj = obj
        self.held = False
        self.segment: tuple[np.ndarray, np.ndarray, float, float] | None = None  # start, goal, elapsed, duration

    def command_velocity(self, velocity: np.ndarray) -> None:
        self.segment = None
        self.velocity = np.asarray(velocity, dtype=np.float64)

    def command_target(self, goal: np.ndarray, duration: float) -> None:
        self.velocity = np.zeros_like(self.position)
        self.segment = (self.position.copy(), np.asarray(goal, dtype=np.float64), 0.0, max(duration, 1e-9))

    def command_fingers(self, target: np.ndarray) -> None:
        self.finger_target = np.asarray(target, dtype=np.float64)

    def advance(self, dt: float) -> None:
        if self.segment is not None:
            start, goal, elapsed, duration = self.segment
            elapsed = min(elapsed + dt, duration)
            self.position = start + (goal - start) * (elapsed / duration)
            self.segment = None if elapsed >= duration else (start, goal, elapsed, duration)
        else:
            self.position = self.position + self.velocity * dt
        step = self.finger_speed * dt
        self.fingers = self.fingers + np.clip(self.finger_target - self.fingers, -step, step)
        closing = bool(np.all(self.finger_target < self.fingers + 1e-12))
        if self.obj is not None and closing and self._encloses_object():
            self.fingers = np.maximum(self.fingers, self.obj.width / 2)
            self.held = bool(np.all(self.fingers <= self.obj.width / 2 + 1e-9))
        elif not closing:
            self.held = False

    def _encloses_object(self) -> bool:
        if self.held:
            return True
        obj = self.obj
        off_centre = np.hypot(self.position[0] - obj.xy[0], self.position[1] - obj.xy[1])
        return off_centre <= obj.reach and self.position[2] <= obj.height

    @property
    def opening(self) -> float:
        return float(self.fingers.sum())
