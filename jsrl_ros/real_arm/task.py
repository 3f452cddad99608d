"""The grasping task on a real arm, mirrored from the sim (no rclpy): what a policy trained in
``jsrl/Grasp-v0`` sees and does must mean the same on the robot.

* :func:`proprio` — the sim's image-mode ``proprio`` vector from measured quantities;
* :func:`step_delta` — a normalised action's motion as a per-step delta (the sim's
  ``max_translation`` / ``max_rotation`` become ``action_scale``);
* :class:`GraspDetector` — success without privileged state: after the terminal close-and-lift,
  fingers that stopped between ``min_width`` and ``max_width`` hold something;
* :func:`outcome` — the step's reward from the detector or, if asked, the human's label.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jsrl_ros.contract.names import LABELS

YAW_LIMIT = math.pi / 2  # the sim's yaw range [-pi/2, pi/2] (a parallel gripper is symmetric under a half turn)
PROPRIO_DIM = 7  # [height above floor, yaw / (pi/2), opening / max_opening, t / max_steps, target u, v, has-target]
REWARD_SOURCES = ("detector", "label")


def proprio(z: float, yaw: float, opening: float, t: int, max_steps: int, floor_z: float,
            max_opening: float) -> np.ndarray:
    """The sim's image-mode proprio vector (indiscriminate task: no target), clipped to [-1, 1]."""
    folded = (yaw + YAW_LIMIT) % math.pi - YAW_LIMIT  # the same grasp, expressed in the sim's yaw range
    values = [z - floor_z, folded / YAW_LIMIT, opening / max_opening, t / max_steps, 0.0, 0.0, 0.0]
    return np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)


def step_delta(motion: Sequence[float], action_scale: Sequence[float]) -> np.ndarray:
    """Normalised motion in [-1, 1] -> the per-step delta of each axis (m, rad)."""
    return np.asarray(motion, dtype=np.float64) * np.asarray(action_scale, dtype=np.float64)


def yaw_of_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Rotation about the vertical axis (ZYX Euler yaw) of a unit quaternion."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


@dataclass(frozen=True)
class GraspDetector:
    """An object is held if the closed fingers, after the lift, are between ``min_width`` and
    ``max_width`` apart (fully closed: nothing between them; still open: they never closed)."""

    min_width: float
    max_width: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_width < self.max_width:
            raise ValueError(f"grasp widths must satisfy 0 <= min_width < max_width, got "
                             f"{self.min_width}, {self.max_width}")

    def __call__(self, width_after_lift: float) -> bool:
        return self.min_width <= width_after_lift <= self.max_width


def outcome(detected: bool, label: str, source: str) -> tuple[float, bool]:
    """(reward, success) of a grasp attempt. ``success`` is always the detector's verdict (stored
    beside the label); the reward follows the label when ``source`` is ``label`` and one was given."""
    if source == "label" and label in LABELS:
        return float(label == "success"), detected
    return float(detected), detected
