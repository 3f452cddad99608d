"""The one safety layer every real-arm command passes (no rclpy: unit-testable with a fake clock).

:class:`SafetyLimits` holds every limit, read from ``config/ros/real_arm.yaml`` (the bridge's
``safety.*`` parameters) and validated before the bridge starts: a missing or inverted limit
is a :class:`ConfigError` naming the key, never a default. :class:`SafetyFilter` applies them:

* an action that is not a finite vector of the right length is rejected (counted, never
  forwarded); entries outside the normalised [-1, 1] are clipped (counted);
* a motion becomes a target inside the workspace box, at most ``max_step`` per axis per step
  and ``max_velocity`` per axis; velocities toward a target never point out of the box;
* motion stops (zero velocity / hold) while the e-stop is latched, while the measured state
  cannot be trusted (:class:`jsrl_ros.real_arm.measured_state.MeasuredState`: implausible, stale, or
  disagreeing with the commanded motion), while a required deadman is released or silent
  for ``deadman_timeout``, and when no valid action arrived for ``watchdog_timeout`` while
  the policy drives.

:class:`TwistSegment` streams one move as velocity commands that cannot overshoot its target,
however late the next command comes.

Axes are the bridge's command space: the end effector's (x, y, z, yaw) for Cartesian
velocity commands, the joints for joint-trajectory commands; the box is that space's box.
Times are seconds on any monotonic clock the caller passes in.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jsrl_learning.config import ConfigError, read_yaml, require
from jsrl_ros.real_arm.measured_state import MeasuredState

DEADMAN_MODES = ("off", "guide", "always")
ESTOP, DEADMAN, WATCHDOG = "estop", "deadman", "watchdog"


@dataclass(frozen=True)
class SafetyLimits:
    """Every limit of the real arm, per axis of the command space where it is a list."""

    workspace_min: tuple[float, ...]  # box corner (m / rad); nothing is commanded outside the box
    workspace_max: tuple[float, ...]
    max_velocity: tuple[float, ...]  # per axis (m/s, rad/s)
    max_step: tuple[float, ...]  # per axis per control step (m, rad)
    watchdog_timeout: float  # s without a valid action while the policy drives -> stop
    deadman: str  # off | guide (held while the guide is in control) | always
    deadman_timeout: float  # s: a held deadman must be re-sent at least this often
    jump_tolerance: tuple[float, ...]  # per axis: how much further than max_velocity allows a reading may move
    tracking_tolerance: tuple[float, ...]  # per axis: how far from a move's target the arm may end it
    measurement_timeout: float  # s: older position readings hold the arm

    @property
    def n_axes(self) -> int:
        return len(self.workspace_min)

    def validate(self, where: str) -> None:
        n = self.n_axes
        require(n > 0, where, "workspace_min must list one value per axis")
        for key in _LISTS:
            values = getattr(self, key)
            require(len(values) == n, f"{where}.{key}", f"has {len(values)} values for {n} axes (workspace_min)")
            require(all(math.isfinite(v) for v in values), f"{where}.{key}", f"must be finite, got {list(values)}")
        for i, (lo, hi) in enumerate(zip(self.workspace_min, self.workspace_max)):
            require(lo < hi, f"{where}.workspace_max", f"axis {i}: max {hi} is not above workspace_min {lo} "
                                                       "(an inverted or empty box)")
        for key in ("max_velocity", "max_step", "jump_tolerance", "tracking_tolerance"):
            require(min(getattr(self, key)) > 0, f"{where}.{key}", f"must be > 0 on every axis, got "
                                                                   f"{list(getattr(self, key))}")
        for key in ("watchdog_timeout", "deadman_timeout", "measurement_timeout"):
            value = getattr(self, key)
            require(math.isfinite(value) and value > 0, f"{where}.{key}", f"must be > 0 s, got {value}")
        require(self.deadman in DEADMAN_MODES, f"{where}.deadman", f"must be one of {DEADMAN_MODES}, "
                                                                   f"got {self.deadman!r}")


LIMIT_KEYS = tuple(f.name for f in fields(SafetyLimits))
_LISTS = ("workspace_min", "workspace_max", "max_velocity", "max_step", "jump_tolerance", "tracking_tolerance")


def limits_from_mapping(data: Mapping[str, Any], where: str) -> SafetyLimits:
    """``SafetyLimits`` from ``{key: value}``; a missing, unknown or ill-typed key is a ConfigError naming it."""
    missing = [k for k in LIMIT_KEYS if data.get(k) is None]
    require(not missing, where, f"missing safety limit(s) {missing}: every limit must be set in the config "
                                "(none has a default)")
    unknown = sorted(set(data) - set(LIMIT_KEYS))
    require(not unknown, where, f"unknown safety key(s) {unknown}; known: {list(LIMIT_KEYS)}")
    values: dict[str, Any] = {}
    for key in LIMIT_KEYS:
        value = data[key]
        try:
            if key in _LISTS:
                values[key] = tuple(float(v) for v in value)
            elif key == "deadman":
                values[key] = str(value)
            else:
                values[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.{key}: not a number{' list' if key in _LISTS else ''}: {value!r}") from exc
    limits = SafetyLimits(**values)
    limits.validate(where)
    return limits


def load_limits(path: str | Path, node: str = "real_arm_bridge") -> SafetyLimits:
    """The ``safety`` limits of ``node`` in a ROS-parameter YAML (``node: ros__parameters: safety: ...``)."""
    data = read_yaml(path)
    where = f"{path}: {node}.ros__parameters.safety"
    section = (data.get(node) or {}).get("ros__parameters", {}).get("safety")
    require(isinstance(section, Mapping), where, "no safety section")
    return limits_from_mapping(section, where)


class SafetyFilter:
    """Applies :class:`SafetyLimits` to every command; counts what it rejected, clipped and stopped."""

    def __init__(self, limits: SafetyLimits, dt: float, margin: float | Sequence[float] = 0.0) -> None:
        """``margin`` (per axis, or one for all): targets stay this far inside the box, so the driver's
        tracking error and measurement noise cannot carry the arm out."""
        self.limits = limits
        self.dt = dt
        margin = np.broadcast_to(np.asarray(margin, dtype=np.float64), (limits.n_axes,))
        self.low = np.asarray(limits.workspace_min) + margin
        self.high = np.asarray(limits.workspace_max) - margin
        if np.any(self.low >= self.high):
            raise ValueError(f"a margin of {margin} leaves no room inside the workspace box")
        self.v_max = np.asarray(limits.max_velocity)
        self.step_max = np.minimum(np.asarray(limits.max_step), self.v_max * dt)
        self.measured = MeasuredState(limits.max_velocity, limits.jump_tolerance, limits.tracking_tolerance,
                                      limits.measurement_timeout)
        self.counts: Counter[str] = Counter()
        self.estop_latched = False
        self.estop_input = False
        self.deadman_held_at: float | None = None  # when a held deadman was last seen; None: released
        self.last_action_at: float | None = None
        self.last_rejection = ""
        self.stopped_by: str | None = None
        self.estop_at = self.deadman_released_at = float("-inf")  # when each last happened

    # --- actions ------------------------------------------------------------------------

    def accept(self, action: Sequence[float], size: int) -> np.ndarray | None:
        """The action as float64 clipped to [-1, 1], or None if it must be dropped (counted)."""
        values = np.asarray(action, dtype=np.float64)
        if values.shape != (size,):
            return self.reject(f"{values.size} values, expected {size}")
        if not np.all(np.isfinite(values)):
            return self.reject(f"non-finite values {values.tolist()}")
        if np.any(np.abs(values) > 1.0):
            self.counts["clipped"] += 1
            values = np.clip(values, -1.0, 1.0)
        return values

    def feed(self, now: float) -> None:
        """A valid action for the current step arrived: the watchdog starts over."""
        self.last_action_at = now

    def reject(self, reason: str) -> None:
        """Count a dropped command (the caller logs ``reason``)."""
        self.counts["rejected"] += 1
        self.last_rejection = reason

    def target(self, position: Sequence[float], delta: Sequence[float]) -> np.ndarray:
        """``position + delta`` with the delta limited per step (and by velocity x dt) and the result in the box."""
        p = np.asarray(position, dtype=np.float64)
        d = np.asarray(delta, dtype=np.float64)
        limited = np.clip(d, -self.step_max, self.step_max)
        goal = np.clip(p + limited, self.low, self.high)
        if not np.array_equal(goal, p + d):
            self.counts["clamped"] += 1
        return goal

    def inside(self, position: Sequence[float]) -> np.ndarray:
        """``position`` moved into the box (a hold target from a noisy measurement)."""
        return np.clip(np.asarray(position, dtype=np.float64), self.low, self.high)

    def duration(self, position: Sequence[float], target: Sequence[float], at_least: float) -> float:
        """The time a straight move takes at ``max_velocity`` on its slowest axis (at least ``at_least``)."""
        distance = np.abs(np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64))
        return max(at_least, float(np.max(distance / self.v_max)))

    def velocity(self, position: Sequence[float], velocity: Sequence[float]) -> np.ndarray:
        """``velocity`` at most ``max_velocity`` per axis, and never outward on an axis at or beyond a
        face of the (margin-shrunk) box."""
        p = np.asarray(position, dtype=np.float64)
        v = np.clip(np.asarray(velocity, dtype=np.float64), -self.v_max, self.v_max)
        v = np.where(p >= self.high, np.minimum(v, 0.0), v)
        return np.where(p <= self.low, np.maximum(v, 0.0), v)

    # --- stop conditions ----------------------------------------------------------------

    def set_estop(self, engaged: bool, now: float) -> None:
        """The e-stop input: engaging latches; releasing does not clear (see :meth:`clear_estop`)."""
        if engaged and not self.estop_latched:
            self.estop_at = now
        self.estop_input = engaged
        self.estop_latched = self.estop_latched or engaged

    def clear_estop(self) -> bool:
        """An explicit clear; refused while the e-stop input is still engaged."""
        if self.estop_input:
            return False
        self.estop_latched = False
        self.measured.clear()
        return True

    def set_deadman(self, held: bool, now: float) -> None:
        if not held and self.deadman_held_at is not None:
            self.deadman_released_at = now
        self.deadman_held_at = now if held else None

    def deadman_released(self, now: float, guide_in_control: bool) -> bool:
        mode = self.limits.deadman
        if mode == "off" or (mode == "guide" and not guide_in_control):
            return False
        return self.deadman_held_at is None or now - self.deadman_held_at > self.limits.deadman_timeout

    def watchdog_expired(self, now: float, since: float) -> bool:
        """No valid action within ``watchdog_timeout`` of ``since`` (or of the last valid action after it)."""
        last = since if self.last_action_at is None else max(since, self.last_action_at)
        return now - last > self.limits.watchdog_timeout

    def stop_reason(self, now: float, guide_in_control: bool, policy_since: float | None) -> str | None:
        """Why motion must stop now, or None. ``policy_since``: when the policy's turn to act began
        (None while the bridge moves on its own: homing, lifting), for the watchdog. Each change
        into a stop is counted (``estop_stops``, ``deadman_stops``, ``watchdog_stops``)."""
        reason = None
        if self.estop_latched:
            reason = ESTOP
        elif (hold := self.measured.hold_reason(now)) is not None:
            reason = hold
        elif self.deadman_released(now, guide_in_control):
            reason = DEADMAN
        elif policy_since is not None and self.watchdog_expired(now, policy_since):
            reason = WATCHDOG
        if reason is not None and reason != self.stopped_by:
            self.counts[f"{reason}_stops"] += 1
        self.stopped_by = reason
        return reason


class TwistSegment:
    """A straight move of the axes streamed as velocity commands that can never carry the arm past
    its target, however late the next command comes.

    A twist acts until the next one arrives, or at most ``hold`` seconds (the arm driver halts
    when its command stream stops: MoveIt Servo's ``incoming_command_timeout``). So each velocity
    is the displacement still to go (target - start - what the velocities sent so far commanded)
    divided by at least ``hold``: acting even ``hold`` seconds, it only reaches the target. Early
    in the move this is the straight-line speed (``distance / duration``); near the end it decays.
    """

    def __init__(self, start: np.ndarray, target: np.ndarray, t0: float, duration: float, hold: float) -> None:
        self.start = np.asarray(start, dtype=np.float64)
        self.delta = np.asarray(target, dtype=np.float64) - self.start
        self.end, self.hold = t0 + duration, hold
        self.commanded = np.zeros_like(self.delta)
        self.sent, self.sent_at = np.zeros_like(self.delta), t0

    def velocity(self, now: float, limit: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The velocity to send now, passed through ``limit`` (the filter's caps); it is then taken as sent."""
        self.commanded += self._acting(now)
        remaining = self.delta - self.commanded
        remaining = np.where(remaining * self.delta > 0.0, remaining, 0.0)  # never back across the start line
        self.sent = limit(remaining / max(self.end - now, self.hold))
        self.sent_at = now
        return self.sent

    def planned(self, now: float) -> np.ndarray:
        """Where the velocities sent so far put the arm by ``now``: the next segment starts here, so
        chained segments cannot add up past the box even while the measurement lags the motion."""
        return self.start + self.commanded + self._acting(now)

    def _acting(self, now: float) -> np.ndarray:
        return self.sent * min(max(0.0, now - self.sent_at), self.hold)  # the driver halts after ``hold``
