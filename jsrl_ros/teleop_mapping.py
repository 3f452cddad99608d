"""Human teleop commands -> the grasping task's normalised action (dx, dy, dz, dyaw, gripper).

Shared by the keyboard teleop and the arbiter's human guide, so a command means the same
wherever it comes from. Axes follow REP 103 (x forward, y left, z up, yaw counter-clockwise).
Gripper: ``+1`` closes (the grasp attempt), ``-1`` opens — the action's last entry, and
the value carried by ``teleop/gripper`` (std_msgs/Float64). Everything is clipped to
[-1, 1]; non-finite input is a :class:`MalformedMessage`, never an action.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from jsrl_learning.guides.human import LatestCommand
from jsrl_ros.contract.conversions import MalformedMessage

ACTION_NAMES = ("dx", "dy", "dz", "dyaw", "gripper")
GRIPPER_OPEN, GRIPPER_CLOSE = -1.0, 1.0


@dataclass(frozen=True)
class TwistScales:
    """The twist that maps to a full (1.0) action: ``linear`` m/s, ``angular`` rad/s."""

    linear: float = 0.5
    angular: float = 1.0

    def __post_init__(self) -> None:
        if not (self.linear > 0 and self.angular > 0):
            raise ValueError(f"TwistScales: linear and angular must be > 0, got {self.linear}, {self.angular}")


def twist_to_action(twist: Any, scales: TwistScales = TwistScales(), gripper: float = GRIPPER_OPEN) -> np.ndarray:
    """A geometry_msgs Twist or TwistStamped (and the gripper command) as a float32 action."""
    twist = getattr(twist, "twist", twist)
    motion = [twist.linear.x / scales.linear, twist.linear.y / scales.linear, twist.linear.z / scales.linear,
              twist.angular.z / scales.angular]
    return _action(motion, gripper)


@dataclass(frozen=True)
class JoyMap:
    """Which joystick axes drive (dx, dy, dz, dyaw), each times its scale (negative flips it), and
    the button that closes the gripper while held. Defaults: an Xbox-style pad under the ``joy``
    driver — left stick x/y, right stick z/yaw, A closes."""

    axes: tuple[int, int, int, int] = (1, 0, 4, 3)
    scales: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    gripper_button: int = 0

    def __post_init__(self) -> None:
        if len(self.axes) != 4 or len(self.scales) != 4 or min(*self.axes, self.gripper_button) < 0:
            raise ValueError(f"JoyMap: need 4 axis indices >= 0 and 4 scales for dx, dy, dz, dyaw, and a button "
                             f"index >= 0; got axes {self.axes}, scales {self.scales}, button {self.gripper_button}")


def joy_to_action(joy: Any, axes_map: JoyMap, deadman_button: int) -> np.ndarray | None:
    """A sensor_msgs/Joy as a float32 action, or None while the deadman button is released."""
    buttons_needed = max(deadman_button, axes_map.gripper_button) + 1
    if len(joy.buttons) < buttons_needed or len(joy.axes) < max(axes_map.axes) + 1:
        raise MalformedMessage(f"joy message has {len(joy.axes)} axes and {len(joy.buttons)} buttons; the mapping "
                               f"uses axes {list(axes_map.axes)}, buttons {deadman_button} (deadman) and "
                               f"{axes_map.gripper_button} (gripper)")
    if not joy.buttons[deadman_button]:
        return None
    motion = [joy.axes[i] * s for i, s in zip(axes_map.axes, axes_map.scales)]
    return _action(motion, GRIPPER_CLOSE if joy.buttons[axes_map.gripper_button] else GRIPPER_OPEN)


def _action(motion: list[float], gripper: float) -> np.ndarray:
    values = [*motion, gripper]
    if not all(math.isfinite(v) for v in values):
        raise MalformedMessage(f"teleop command has non-finite values: {values}")
    return np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)


class TeleopCommands:
    """The human's latest command from any teleop input, kept in ``source`` for the human guide.

    A twist is held with the latest ``teleop/gripper`` command (a gripper command alone re-issues
    the last twist with it); a gamepad gives whole commands, and its released deadman clears the
    command at once (idle now, not after the guide's timeout). Bad input raises MalformedMessage.
    """

    def __init__(self, source: LatestCommand, scales: TwistScales, joy_map: JoyMap, deadman_button: int) -> None:
        self.source, self.scales, self.joy_map, self.deadman_button = source, scales, joy_map, deadman_button
        self.gripper_command = GRIPPER_OPEN
        self.last_twist: Any = None

    def twist(self, msg: Any) -> None:
        """A geometry_msgs Twist or TwistStamped."""
        action = twist_to_action(msg, self.scales, self.gripper_command)
        self.last_twist = msg
        self.source.put(action)

    def gripper(self, msg: Any) -> None:
        """A std_msgs/Float64 in [-1, 1]: +1 closes."""
        if not -1.0 <= msg.data <= 1.0:
            raise MalformedMessage(f"gripper command {msg.data} outside [-1, 1]")
        self.gripper_command = msg.data
        if self.last_twist is not None:
            self.source.put(twist_to_action(self.last_twist, self.scales, self.gripper_command))

    def joy(self, msg: Any) -> None:
        """A sensor_msgs/Joy."""
        action = joy_to_action(msg, self.joy_map, self.deadman_button)
        if action is None:
            self.source.clear()
        else:
            self.source.put(action)
