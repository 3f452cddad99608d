"""Keyboard teleop for the grasping graph, in a terminal (after teleop_twist_keyboard).

Publishes ``teleop/cmd_vel_stamped`` (geometry_msgs/TwistStamped) and ``teleop/gripper``
(std_msgs/Float64: +1 close = grasp, -1 open) on every key and every ``key_timeout`` without
one (then a stop: letting go of the keys halts the arm), labels the open episode on
``teleop/label`` and ends it through the bridge's ``jsrl/reset`` service. Key handling is
the pure :func:`handle_key`, so it is testable without a terminal.
"""
from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
from dataclasses import dataclass
from typing import Callable, Iterator

import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.teleop_mapping import GRIPPER_CLOSE, GRIPPER_OPEN

BANNER = """
Keyboard teleop for jsrl_ros (a human guide)
--------------------------------------------
Move the gripper (hold the key):
   u    i    o        i / ,  : forward / back      (x)
   j    k    l        j / l  : left / right        (y)
        ,             t / b  : up / down           (z)
                      u / o  : turn left / right   (yaw)
k or any other key: stop      q / z : speeds +10% / -10%
g : close the gripper (grasp attempt)
s / f : label this episode success / failure
r : end the episode now (jsrl/reset)
Ctrl-C : quit
"""

MOVES = {"i": (1, 0, 0, 0), ",": (-1, 0, 0, 0), "j": (0, 1, 0, 0), "l": (0, -1, 0, 0),
         "t": (0, 0, 1, 0), "b": (0, 0, -1, 0), "u": (0, 0, 0, 1), "o": (0, 0, 0, -1)}
SPEED_FACTORS = {"q": 1.1, "z": 0.9}
LABEL_KEYS = {"s": "success", "f": "failure"}
CTRL_C = "\x03"


@dataclass(frozen=True)
class KeyCommand:
    """What one key (or ``""``: no key within the timeout) asks for."""

    twist: tuple[float, float, float, float]  # vx, vy, vz (m/s), wz (rad/s)
    speed: float
    turn: float
    gripper: float = GRIPPER_OPEN
    label: str | None = None
    end_episode: bool = False
    quit: bool = False


def handle_key(key: str, speed: float, turn: float) -> KeyCommand:
    """The command for ``key`` at the current ``speed`` (m/s) and ``turn`` (rad/s)."""
    if key in MOVES:
        x, y, z, yaw = MOVES[key]
        return KeyCommand((x * speed, y * speed, z * speed, yaw * turn), speed, turn)
    stop = (0.0, 0.0, 0.0, 0.0)
    if key in SPEED_FACTORS:
        return KeyCommand(stop, speed * SPEED_FACTORS[key], turn * SPEED_FACTORS[key])
    return KeyCommand(stop, speed, turn, gripper=GRIPPER_CLOSE if key == "g" else GRIPPER_OPEN,
                      label=LABEL_KEYS.get(key), end_episode=key == "r", quit=key == CTRL_C)


class KeyboardTeleop(CheckedNode):
    def __init__(self, **node_kwargs) -> None:
        super().__init__("teleop_keyboard", **node_kwargs)
        self.speed = float(self.declare_parameter("speed", 0.5).value)
        self.turn = float(self.declare_parameter("turn", 1.0).value)
        self.key_timeout = float(self.declare_parameter("key_timeout", 0.5).value)
        self.twist_pub = self.create_publisher(TwistStamped, topics.TELEOP_TWIST, RELIABLE)
        self.gripper_pub = self.create_publisher(Float64, topics.TELEOP_GRIPPER, RELIABLE)
        self.label_pub = self.create_publisher(String, topics.TELEOP_LABEL, RELIABLE)
        self.reset_client = self.create_client(Trigger, topics.RESET)

    def apply(self, command: KeyCommand) -> None:
        """Publish what ``command`` asks for and keep its speeds."""
        changed = (command.speed, command.turn) != (self.speed, self.turn)
        self.speed, self.turn = command.speed, command.turn
        if changed:
            print(f"speed {self.speed:.3f} m/s, turn {self.turn:.3f} rad/s", flush=True)
        msg = TwistStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z, msg.twist.angular.z = command.twist
        self.twist_pub.publish(msg)
        self.gripper_pub.publish(Float64(data=command.gripper))
        if command.label:
            self.label_pub.publish(String(data=command.label))
            print(f"labelled: {command.label}", flush=True)
        if command.end_episode:
            self.request_reset()

    def request_reset(self) -> None:
        if not self.reset_client.service_is_ready():
            print("jsrl/reset is not available (is the bridge running?)", flush=True)
            return
        future = self.reset_client.call_async(Trigger.Request())
        future.add_done_callback(lambda f: print(f"reset: {f.result().message or f.result().success}", flush=True))


@contextlib.contextmanager
def raw_keys() -> Iterator[Callable[[float], str]]:
    """``read_key(timeout)`` on the terminal on stdin, restored on exit.

    Keys arrive one at a time, unechoed, and Ctrl-C arrives as a key (no signal), for the
    whole session: a key pressed between two reads is never lost or half-handled. Output
    processing stays on, so printing works as usual.
    """
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)  # local modes
    mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)

    def read_key(timeout: float) -> str:
        ready, _, _ = select.select([fd], [], [], timeout)
        return os.read(fd, 1).decode(errors="replace") if ready else ""

    try:
        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def main(argv: list[str] | None = None) -> int:
    if not sys.stdin.isatty():
        print("error: teleop_keyboard reads keys from a terminal; run it in its own terminal", file=sys.stderr)
        return 2
    rclpy.init(args=sys.argv if argv is None else argv)
    node = KeyboardTeleop()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        print(BANNER, flush=True)
        with raw_keys() as read_key:
            while rclpy.ok():
                command = handle_key(read_key(node.key_timeout), node.speed, node.turn)
                if command.quit:
                    break
                node.apply(command)
                executor.spin_once(timeout_sec=0.0)  # e.g. the reset service's response
    except KeyboardInterrupt:
        pass
    finally:
        if rclpy.ok():
            node.apply(handle_key("k", node.speed, node.turn))  # leave the arm stopped
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
