"""Property 3: nothing non-finite or outside the safety box ever reaches the arm.

Checked on what the real-arm bridge publishes — twists, trajectories, gripper commands —
against the bridge's own limits (``real_arm_bridge.safety`` in the scenario YAML), and on
where the fake arm says it is: a twist carries no position, so in twist mode the box is
checked on the arm itself. The arm may stand outside the box by at most ``box_margin``,
the tracking error the configuration reserves inside it. No rclpy: unit-testable.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

MAX_VIOLATIONS = 50  # kept verbatim; later ones are only counted


@dataclass(frozen=True)
class ArmLimits:
    axis_joints: tuple[str, ...]
    low: tuple[float, ...]  # workspace_min
    high: tuple[float, ...]  # workspace_max
    max_velocity: tuple[float, ...]
    margin: tuple[float, ...]  # box_margin: how far outside the box the *measured* arm may be
    gripper: tuple[tuple[float, ...], ...]  # the only gripper commands there are: open, close

    @classmethod
    def from_params(cls, bridge: Mapping[str, Any]) -> "ArmLimits":
        """From the real_arm_bridge's ``ros__parameters`` section."""
        safety = bridge["safety"]
        return cls(tuple(bridge.get("axis_joints", ["x", "y", "z", "yaw"])),
                   tuple(map(float, safety["workspace_min"])), tuple(map(float, safety["workspace_max"])),
                   tuple(map(float, safety["max_velocity"])), tuple(map(float, bridge["box_margin"])),
                   (tuple(map(float, bridge["gripper_open_command"])), tuple(map(float, bridge["gripper_close_command"]))))


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


class ArmCommandCheck:
    """Feeds on arm commands and measurements; keeps every violation (up to MAX_VIOLATIONS) with a reason."""

    def __init__(self, limits: ArmLimits, eps: float = 1e-9) -> None:
        self.limits, self.eps = limits, eps
        self.violations: list[str] = []
        self.count = 0
        self.checked: Counter[str] = Counter()

    def _violate(self, text: str) -> None:
        self.count += 1
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(text)

    def twist(self, linear: Sequence[float], angular: Sequence[float]) -> None:
        """A TwistStamped's linear (x, y, z) and angular (x, y, z): finite, within max_velocity per axis."""
        self.checked["twist"] += 1
        values = [*linear, *angular]
        if not _finite(values):
            return self._violate(f"non-finite twist {values}")
        used = [linear[0], linear[1], linear[2], angular[2]]
        for axis, (v, cap) in enumerate(zip(used, self.limits.max_velocity)):
            if abs(v) > cap + self.eps:
                self._violate(f"twist axis {axis} at {v} exceeds max_velocity {cap}")

    def trajectory(self, joint_names: Sequence[str], points: Sequence[tuple[Sequence[float], float]]) -> None:
        """A JointTrajectory's points as (positions, time_from_start s): finite, inside the box, on the arm's joints."""
        self.checked["trajectory"] += 1
        if list(joint_names) != list(self.limits.axis_joints):
            return self._violate(f"trajectory for joints {list(joint_names)}, the arm's are {self.limits.axis_joints}")
        for positions, at in points:
            if not _finite([*positions, at]) or at < 0:
                return self._violate(f"trajectory point {list(positions)} at {at} s is not finite / in the future")
            if len(positions) != len(self.limits.low):
                return self._violate(f"trajectory point has {len(positions)} positions for {len(self.limits.low)} axes")
            for axis, (p, lo, hi) in enumerate(zip(positions, self.limits.low, self.limits.high)):
                if not lo - self.eps <= p <= hi + self.eps:
                    self._violate(f"trajectory target axis {axis} = {p} outside the box [{lo}, {hi}]")

    def gripper(self, data: Sequence[float]) -> None:
        """A gripper command: one of the configured open / close commands."""
        self.checked["gripper"] += 1
        if not _finite(data) or all(tuple(data) != command for command in self.limits.gripper):
            self._violate(f"gripper command {list(data)} is neither {list(self.limits.gripper)}")

    def measured(self, names: Sequence[str], positions: Sequence[float]) -> None:
        """The fake arm's own joint_states: its axes inside the box, give or take box_margin."""
        values = dict(zip(names, positions))
        if not all(j in values for j in self.limits.axis_joints):
            return
        self.checked["measured"] += 1
        for axis, joint in enumerate(self.limits.axis_joints):
            p, lo, hi, m = values[joint], self.limits.low[axis], self.limits.high[axis], self.limits.margin[axis]
            if not (math.isfinite(p) and lo - m <= p <= hi + m):
                self._violate(f"the arm is at {joint} = {p}, outside the box [{lo}, {hi}] by more than {m}")
