"""The real arm's move in progress and the command each control tick sends (no rclpy).

Two ways to command an arm (the bridge's ``command_mode``): *twist* streams a velocity every
tick, from a :class:`jsrl_ros.real_arm.safety.TwistSegment` that cannot carry the arm past its target;
*joint_trajectory* sends a move's target once, when it begins, and one hold on a stop. Any
stop ends the move: motion resumes only with a new one. Every value passes the
:class:`jsrl_ros.real_arm.safety.SafetyFilter` the caller gives; ``jsrl_ros/real_arm/commands.py`` turns the
commands into messages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jsrl_ros.real_arm.safety import SafetyFilter, TwistSegment

TWIST_AXES = 4  # x, y, z, yaw: what a twist command moves


@dataclass(frozen=True)
class Velocity:
    """Stream these axis velocities now (twist mode)."""

    values: np.ndarray


@dataclass(frozen=True)
class Target:
    """Reach these axis positions in ``duration`` s (joint_trajectory mode)."""

    positions: np.ndarray
    duration: float


Command = Velocity | Target


class ArmMotion:
    """One straight move at a time, from the measured position to a target inside the box."""

    def __init__(self, twist: bool, safety: SafetyFilter, dt: float, hold: float, period: float) -> None:
        """``twist``: stream velocities (else joint targets); ``dt``: the control period (a move takes at
        least that long); ``hold``: how long the driver lets a twist act; ``period``: the command period
        (a hold's duration)."""
        self.twist_mode, self.safety = twist, safety
        self.dt, self.hold, self.period = dt, hold, period
        self.ends_at: float | None = None  # when the move in progress ends
        self.twist: TwistSegment | None = None  # its velocity stream (twist mode)
        self.hold_sent = False  # (joint_trajectory) the stop's hold went out: send it once
        self.target: np.ndarray | None = None  # the move's goal

    def cancel(self) -> None:
        """End the move in progress: no more velocity toward its target."""
        self.ends_at = self.twist = self.target = None

    def commanded(self, now: float) -> np.ndarray | None:
        """Where the commands sent so far put the arm by ``now`` (None: no move runs). Twist: the velocities
        as sent, however late they went out; joint trajectory: the target."""
        if self.ends_at is None:
            return None
        return self.twist.planned(now) if self.twist is not None else self.target

    def settled(self, now: float) -> bool:
        """No move, or one that ended a control period ago (the measurement has caught up)."""
        return self.ends_at is None or now > self.ends_at + self.dt

    def move_to(self, measured: np.ndarray, target: np.ndarray, now: float) -> Command | None:
        """Begin a straight move to ``target`` (inside the box), in one control period or as fast as
        ``max_velocity`` allows; returns the command that goes out at once (a joint target)."""
        start = self._start(measured, now)
        duration = self.safety.duration(start, target, self.dt)
        self.ends_at, self.target = now + duration, np.asarray(target, dtype=np.float64)
        if self.twist_mode:
            self.twist = TwistSegment(start, target, now, duration, self.hold)
            return None
        self.hold_sent = False
        return Target(target, duration)

    def tick(self, measured: np.ndarray | None, stop_reason: str | None, now: float) -> Command | None:
        """The command of this tick. Twist: the move's velocity (zero after it, and while stopped).
        Joint trajectory: nothing, except one hold when a stop begins."""
        if stop_reason is not None:
            self.cancel()
        if self.twist_mode:
            velocity = np.zeros(TWIST_AXES)
            if self.twist is not None and measured is not None:
                velocity = self.twist.velocity(now, lambda v: self.safety.velocity(measured, v))
            return Velocity(velocity)
        if stop_reason is not None and not self.hold_sent and measured is not None:
            return self._hold(measured)
        return None

    def stop(self, measured: np.ndarray | None) -> Command | None:
        """Stop now: zero velocity (twist), or hold where it is (joint trajectory; once measured)."""
        self.cancel()
        if self.twist_mode:
            return Velocity(np.zeros(TWIST_AXES))
        return None if measured is None else self._hold(measured)

    def _start(self, measured: np.ndarray, now: float) -> np.ndarray:
        """Where a new move starts: while a twist move still runs, its plan (the measurement lags a
        moving arm); once it has settled, the measured position (the arm may have fallen short)."""
        return self.twist.planned(now) if self.twist is not None and not self.settled(now) else measured

    def _hold(self, measured: np.ndarray) -> Target:
        self.hold_sent = True
        return Target(self.safety.inside(measured), self.period)
