"""The arm's measured position, checked before the safety layer trusts it (no rclpy).

Every limit the bridge enforces is computed from the measured position: the box clamp, the
face check on velocities, where a move starts. A wrong reading therefore moves the arm as
surely as a wrong action. Three checks guard it:

* **plausible**: a reading may not move further from the last accepted one than the arm can
  travel in between, plus ``jump_tolerance`` for sensor noise. "In between" is the time
  between their arrivals plus ``measurement_timeout``: readings queued behind a busy
  callback arrive together although they were measured apart. An implausible reading is
  rejected and counted, and the arm holds while readings are being rejected;
* **tracking**: at the end of each of the policy's moves, the measured position must be
  within ``tracking_tolerance`` of where the move was commanded to go; if not, the arm holds
  (latched, like the e-stop: ``safety/clear_estop``) and an ERROR goes out on ``diagnostics``;
* **fresh**: readings older than ``measurement_timeout`` hold the arm until they resume;
* **one source**: while the node sees a publisher other than the configured one on its
  readings' topic (``source_fault``, set by the node from the ROS graph), the arm holds.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from jsrl_ros.contract.conversions import MalformedMessage

IMPLAUSIBLE, TRACKING, STALE_READINGS, FOREIGN_SOURCE = ("implausible_reading", "tracking", "stale_readings",
                                                         "foreign_source")


class Implausible(MalformedMessage):
    """A reading the arm cannot have produced: further from the last one than it can move."""


class MeasuredState:
    """Accepts readings of the axes' positions and says when the arm must hold because of them."""

    def __init__(self, max_velocity: Sequence[float], jump_tolerance: Sequence[float],
                 tracking_tolerance: Sequence[float], timeout: float) -> None:
        self.v_max = np.asarray(max_velocity, dtype=np.float64)
        self.jump_tolerance = np.asarray(jump_tolerance, dtype=np.float64)
        self.tracking_tolerance = np.asarray(tracking_tolerance, dtype=np.float64)
        self.timeout = timeout
        self.last: np.ndarray | None = None
        self.last_at = float("-inf")
        self.rejected_at = float("-inf")
        self.implausible = self.tracking_faults = 0
        self.tracking_fault: str | None = None  # latched until cleared
        self.source_fault: str | None = None  # set by the node while the readings' topic has a foreign publisher

    def accept(self, position: np.ndarray, now: float) -> None:
        """Take ``position`` as measured at ``now``, or raise Implausible (counted; the arm holds a while)."""
        if self.last is not None:
            reach = self.v_max * (max(0.0, now - self.last_at) + self.timeout) + self.jump_tolerance
            jump = np.abs(position - self.last)
            if np.any(jump > reach):
                self.implausible += 1
                self.rejected_at = now
                axis = int(np.argmax(jump - reach))
                raise Implausible(f"axis {axis} jumped {jump[axis]:.4g} since the last reading "
                                  f"{now - self.last_at:.3g} s ago; the arm can move {reach[axis]:.4g}")
        self.last, self.last_at = np.array(position, dtype=np.float64), now

    def check_tracking(self, commanded: np.ndarray, measured: np.ndarray) -> bool:
        """A move ended: did the arm get where it was sent? A miss latches a hold (returns False)."""
        miss = np.abs(np.asarray(measured, dtype=np.float64) - commanded)
        if np.all(miss <= self.tracking_tolerance):
            return True
        axis = int(np.argmax(miss - self.tracking_tolerance))
        self.tracking_faults += 1
        self.tracking_fault = (f"axis {axis} ended {miss[axis]:.4g} from its commanded target "
                               f"(tolerance {self.tracking_tolerance[axis]:.4g}): commanded and measured motion disagree")
        return False

    def clear(self) -> None:
        """The operator cleared the stop (``safety/clear_estop``)."""
        self.tracking_fault = None

    def hold_reason(self, now: float) -> str | None:
        """Why the measurement forbids motion now, or None. Before the first reading nothing moves anyway."""
        if self.tracking_fault is not None:
            return TRACKING
        if self.source_fault is not None:
            return FOREIGN_SOURCE
        if self.last is not None and now - self.last_at > self.timeout:
            return STALE_READINGS
        if now - self.rejected_at <= self.timeout:
            return IMPLAUSIBLE
        return None
