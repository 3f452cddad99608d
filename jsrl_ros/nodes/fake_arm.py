"""Fake arm hardware: a kinematic arm behind the interfaces a real arm's drivers offer.

In: geometry_msgs/TwistStamped (as MoveIt Servo's ``delta_twist_cmds``: linear x, y, z and
angular z drive the axes (x, y, z, yaw); a stream that stops for ``command_timeout`` halts the
arm, as Servo does), trajectory_msgs/JointTrajectory (as a joint_trajectory_controller: the last
point is reached along a straight segment at its ``time_from_start``) and the gripper's
std_msgs/Float64MultiArray (finger positions, as a forward position controller). Every command
takes effect ``latency`` s after it was sent (its header stamp; the gripper's: after it arrived),
like a driver in its own process, whatever the sender's or this process's scheduling.

Out: ``joint_states`` (axes and fingers, with Gaussian ``noise`` on the positions), the same
pose as geometry_msgs/PoseStamped on ``pose_topic`` if set, and a synthetic top-down camera
image (grey floor, the object as a red disc, the gripper as a white square whose size shows
its height).

It records the true trajectory and every command it received (``trajectory``, ``commands``),
which the safety tests assert on.
"""
from __future__ import annotations

import bisect
import itertools
import math
from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from jsrl_learning.config import ConfigError, require
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import numpy_to_image
from jsrl_ros.contract.qos import RELIABLE, SENSOR
from jsrl_ros.real_arm.fake_arm_model import FakeObject, KinematicArm
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import publish_counters
from jsrl_ros.runtime.spin import spin_node

TWIST, TRAJECTORY, GRIPPER = "twist", "trajectory", "gripper"
RECORD_LIMIT = 100_000


class FakeArm(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("fake_arm", **node_kwargs)
        where = f"{self.get_name()} parameters"
        self.joints = list(self.declare_parameter("joints", ["x", "y", "z", "yaw"]).value)
        self.finger_joints = list(self.declare_parameter("finger_joints", ["finger_left", "finger_right"]).value)
        initial = [float(v) for v in self.declare_parameter("initial", [0.55, 0.0, 0.25, 0.0]).value]
        rate = self.declare_parameter("rate", 100.0).value
        self.latency = self.declare_parameter("latency", 0.02).value
        self.noise = self.declare_parameter("noise", 0.0002).value
        self.command_timeout = self.declare_parameter("command_timeout", 0.1).value
        finger_open = self.declare_parameter("finger_open", 0.04).value
        finger_speed = self.declare_parameter("finger_speed", 0.2).value
        obj = [float(v) for v in self.declare_parameter("object", [0.55, 0.0, 0.03, 0.05]).value]
        camera_size = list(self.declare_parameter("camera_size", [80, 60]).value)
        camera_rate = self.declare_parameter("camera_rate", 30.0).value
        self.workspace = [float(v) for v in self.declare_parameter("camera_view", [0.35, -0.2, 0.75, 0.2]).value]
        seed = self.declare_parameter("seed", 0).value
        twist_topic = self.declare_parameter("twist_topic", "servo_node/delta_twist_cmds").value
        trajectory_topic = self.declare_parameter("trajectory_topic",
                                                  "joint_trajectory_controller/joint_trajectory").value
        gripper_topic = self.declare_parameter("gripper_topic", "gripper_controller/commands").value
        pose_topic = self.declare_parameter("pose_topic", "").value
        require(len(self.joints) == 4 and len(initial) == 4, where,
                f"joints and initial must name and place the 4 axes x, y, z, yaw; got {self.joints}, {initial}")
        require(len(self.finger_joints) == 2, where, f"finger_joints must name 2 fingers, got {self.finger_joints}")
        require(rate > 0 and camera_rate > 0 and self.latency >= 0 and self.noise >= 0 and finger_speed > 0, where,
                "rate, camera_rate, finger_speed must be > 0; latency, noise >= 0")
        require(len(obj) == 4 and len(camera_size) == 2 and min(camera_size) > 0 and len(self.workspace) == 4, where,
                "object is [x, y, width, height]; camera_size [w, h] > 0; camera_view [x0, y0, x1, y1]")
        try:
            self.arm = KinematicArm(np.asarray(initial), finger_open, finger_speed,
                                    FakeObject(xy=(obj[0], obj[1]), width=obj[2], height=obj[3]))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        self.finger_open = finger_open
        self.rng = np.random.default_rng(seed)
        self.camera_size = (int(camera_size[0]), int(camera_size[1]))
        self.period = 1.0 / rate
        self.inbox: list[tuple[float, int, str, Any]] = []  # (apply at, arrival order, kind, value), sorted
        self.order = itertools.count()
        self.last_twist_at: float | None = None
        # (time, true axes position) per tick and (time received, kind, values) per command (ROS clock s);
        # bounded (~15 min at 100 Hz) so a long run does not grow without end
        self.trajectory: deque[tuple[float, np.ndarray]] = deque(maxlen=RECORD_LIMIT)
        self.commands: deque[tuple[float, str, np.ndarray]] = deque(maxlen=RECORD_LIMIT)
        self.rejected = 0

        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES, RELIABLE)
        self.pose_pub = self.create_publisher(PoseStamped, pose_topic, RELIABLE) if pose_topic else None
        self.image_pub = self.create_publisher(Image, topics.ARM_CAMERA_IMAGE, SENSOR)
        self.create_subscription(TwistStamped, twist_topic, self.on_twist, RELIABLE)
        self.create_subscription(JointTrajectory, trajectory_topic, self.on_trajectory, RELIABLE)
        self.create_subscription(Float64MultiArray, gripper_topic, self.on_gripper, RELIABLE)
        self.last_tick = self._now()
        self.create_timer(self.period, self.on_tick)
        self.create_timer(1.0 / camera_rate, self.on_camera)
        publish_counters(self, lambda: {"commands": len(self.commands), "rejected": self.rejected,
                                        "held": float(self.arm.held)})

    # --- commands, after the latency ------------------------------------------------------

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _receive(self, kind: str, values: np.ndarray, payload: Any, stamp: Any = None) -> None:
        """A command takes effect ``latency`` after it was sent (its header stamp, when it has one:
        a driver in its own process does not see the sender's scheduling), never before it arrived."""
        now = self._now()
        sent = stamp.sec + stamp.nanosec * 1e-9 if stamp is not None and (stamp.sec or stamp.nanosec) else now
        self.commands.append((now, kind, values))
        at = max(min(sent, now) + self.latency, self.last_tick)
        bisect.insort(self.inbox, (at, next(self.order), kind, payload))

    def on_twist(self, msg: TwistStamped) -> None:
        t = msg.twist
        velocity = np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.z])
        if not np.all(np.isfinite(velocity)):
            self.rejected += 1
            return
        self._receive(TWIST, velocity, velocity, msg.header.stamp)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        if not msg.points or list(msg.joint_names) != self.joints or len(msg.points[-1].positions) != 4:
            self.rejected += 1
            return
        point = msg.points[-1]
        goal = np.asarray(point.positions, dtype=np.float64)
        duration = point.time_from_start.sec + point.time_from_start.nanosec * 1e-9
        if not np.all(np.isfinite(goal)):
            self.rejected += 1
            return
        self._receive(TRAJECTORY, goal, (goal, duration), msg.header.stamp)

    def on_gripper(self, msg: Float64MultiArray) -> None:
        target = np.asarray(msg.data, dtype=np.float64)
        if target.shape != (2,) or not np.all(np.isfinite(target)):
            self.rejected += 1
            return
        self._receive(GRIPPER, target, np.clip(target, 0.0, self.finger_open))

    def on_tick(self) -> None:
        """Integrate up to now, each command taking effect at its own time (not at the tick)."""
        now = self._now()
        while self.inbox and self.inbox[0][0] <= now:
            at, _, kind, payload = self.inbox.pop(0)
            self._advance_to(at)
            if kind == TWIST:
                self.arm.command_velocity(payload)
                self.last_twist_at = at
            elif kind == TRAJECTORY:
                self.arm.command_target(*payload)
            else:
                self.arm.command_fingers(payload)
        self._advance_to(now)
        self.trajectory.append((now, self.arm.position.copy()))
        measured = np.concatenate([self.arm.position, self.arm.fingers])
        measured = measured + self.rng.normal(0.0, self.noise, size=measured.shape) if self.noise else measured
        msg = JointState(name=self.joints + self.finger_joints, position=measured.tolist())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.joint_pub.publish(msg)
        if self.pose_pub is not None:
            self.pose_pub.publish(self._pose(measured, msg.header.stamp))

    @staticmethod
    def _pose(measured: np.ndarray, stamp: Any) -> PoseStamped:
        """The grasp point as a pose (yaw about z), as an arm driver without Cartesian joints reports it."""
        msg = PoseStamped()
        msg.header.stamp = stamp
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in measured[:3])
        msg.pose.orientation.z, msg.pose.orientation.w = math.sin(measured[3] / 2), math.cos(measured[3] / 2)
        return msg

    def _advance_to(self, moment: float) -> None:
        if self.last_twist_at is not None and moment > self.last_twist_at + self.command_timeout:
            self._advance_by(self.last_twist_at + self.command_timeout)
            self.arm.command_velocity(np.zeros(4))  # the command stream stopped: halt, as Servo does
            self.last_twist_at = None
        self._advance_by(moment)

    def _advance_by(self, moment: float) -> None:
        if moment > self.last_tick:
            self.arm.advance(moment - self.last_tick)
            self.last_tick = moment

    # --- camera ------------------------------------------------------------------------

    def on_camera(self) -> None:
        self.image_pub.publish(numpy_to_image(self.render(), self.get_clock().now().to_msg(), "fake_camera"))

    def render(self) -> np.ndarray:
        """A top-down picture of ``camera_view`` (x0, y0, x1, y1 in m): image rows go along x."""
        width, height = self.camera_size
        x0, y0, x1, y1 = self.workspace
        image = np.full((height, width, 3), 90, dtype=np.uint8)

        def pixel(x: float, y: float) -> tuple[int, int]:
            return int((y1 - y) / (y1 - y0) * (width - 1)), int((x - x0) / (x1 - x0) * (height - 1))

        rows, cols = np.mgrid[0:height, 0:width]
        obj = self.arm.obj
        ox, oy = obj.xy
        if self.arm.held:
            ox, oy = self.arm.position[0], self.arm.position[1]
        col, row = pixel(ox, oy)
        radius = max(1.0, obj.width / (x1 - x0) * height)
        image[(rows - row) ** 2 + (cols - col) ** 2 <= radius ** 2] = (200, 30, 30)
        col, row = pixel(self.arm.position[0], self.arm.position[1])
        half = int(np.clip(1 + 4 * (1.0 - self.arm.position[2] / 0.3), 1, 6))
        image[max(row - half, 0):row + half + 1, max(col - half, 0):col + half + 1] = 255
        return image


def main(argv: list[str] | None = None) -> int:
    return spin_node(FakeArm, argv)


if __name__ == "__main__":
    raise SystemExit(main())
