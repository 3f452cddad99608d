"""Plumbing for the real-arm node tests: the bridge and the fake arm with config/ros/real_arm.yaml's
values (plus overrides), and a probe that plays the policy and the operator."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml
from geometry_msgs.msg import TwistStamped
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.nodes.fake_arm import FakeArm
from jsrl_ros.nodes.real_arm_bridge import RealArmBridge

CONFIG = Path(__file__).resolve().parents[1] / "config" / "ros" / "real_arm.yaml"
ACTIONS = ["dx", "dy", "dz", "dyaw", "gripper"]
CLOCK = StepClock(0.1)


def section(node: str) -> dict[str, Any]:
    data = yaml.safe_load(CONFIG.read_text())
    return dict(data[node]["ros__parameters"])


def flat(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML parameters as ROS names (``safety: {a: 1}`` -> ``safety.a``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def bridge_params(**overrides: Any) -> list[Parameter]:
    values = {**flat(section("real_arm_bridge")), "dt": 0.1, "action_names": ACTIONS,
              "autostart": True, "auto_confirm": True, "safety.deadman": "off", "joint_state_source": "fake_arm",
              **overrides}
    return [Parameter(k, value=v) for k, v in values.items() if v is not None]


class ParameterSource:
    """Stands in for the bridge node while RealArmConfig declares its parameters (no rclpy context):
    each gets its value from :func:`bridge_params`, else its default."""

    def __init__(self, **overrides: Any) -> None:
        self.values = {p.name: p.value for p in bridge_params(**overrides)}

    def get_name(self) -> str:
        return "real_arm_bridge"

    def declare_parameter(self, name: str, default: Any, descriptor: Any = None) -> SimpleNamespace:
        return SimpleNamespace(value=self.values.get(name, None if isinstance(default, Parameter.Type) else default))


def fake_arm(ros, **overrides: Any) -> FakeArm:
    values = {**section("fake_arm"), **overrides}
    return ros.add(FakeArm(context=ros.context, parameter_overrides=[Parameter(k, value=v)
                                                                      for k, v in values.items()]))


def bridge(ros, **overrides: Any) -> RealArmBridge:
    return ros.add(RealArmBridge(context=ros.context, parameter_overrides=bridge_params(**overrides)))


def seconds(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class Probe:
    """The policy (answers observations), the operator (e-stop, deadman, labels, reset) and a
    listener on the arm's commands, all in one test node."""

    def __init__(self, ros) -> None:
        self.ros = ros
        self.node = ros.node("probe")
        self.states: dict[tuple[int, int], JointState] = {}
        self.order: list[tuple[int, int]] = []
        self.steps: dict[tuple[int, int], list[float]] = {}
        self.twists: list[tuple[float, np.ndarray]] = []  # (stamp s, [vx, vy, vz, wz])
        self.trajectories: list[tuple[float, np.ndarray]] = []
        self.status: list[str] = []
        n = self.node
        n.create_subscription(JointState, "jsrl/state", self._on_state, RELIABLE)
        n.create_subscription(JointState, "jsrl/step", lambda m: self.steps.__setitem__(
            CLOCK.identity(m.header.stamp), list(m.position)), RELIABLE)
        n.create_subscription(TwistStamped, "servo_node/delta_twist_cmds", self._on_twist, RELIABLE)
        n.create_subscription(JointTrajectory, "joint_trajectory_controller/joint_trajectory", self._on_trajectory,
                              RELIABLE)
        n.create_subscription(String, "safety/status", lambda m: self.status.append(m.data), LATCHED)
        self.action_pub = n.create_publisher(JointState, "jsrl/action", RELIABLE)
        self.estop_pub = n.create_publisher(Bool, "safety/estop", RELIABLE)
        self.deadman_pub = n.create_publisher(Bool, "safety/deadman", RELIABLE)
        self.owner_pub = n.create_publisher(String, "jsrl/control_owner", LATCHED)
        self.label_pub = n.create_publisher(String, "teleop/label", RELIABLE)

    def _on_state(self, msg: JointState) -> None:
        ident = CLOCK.identity(msg.header.stamp)
        if ident not in self.states:
            self.order.append(ident)
        self.states[ident] = msg

    def _on_twist(self, msg: TwistStamped) -> None:
        t = msg.twist
        self.twists.append((seconds(msg.header.stamp), np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.z])))

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        self.trajectories.append((seconds(msg.header.stamp), np.array(msg.points[-1].positions)))

    @property
    def latest(self) -> tuple[int, int] | None:
        return self.order[-1] if self.order else None

    def act(self, ident: tuple[int, int], values, names=ACTIONS) -> None:
        self.action_pub.publish(named_vector(names, values, CLOCK.stamp(*ident)))

    def drive(self, action, steps: int, timeout_s: float = 30.0) -> None:
        """Answer ``steps`` consecutive observations with ``action``."""
        for _ in range(steps):
            assert self.ros.spin_until(lambda: self.latest is not None, timeout_s)
            ident = self.latest
            self.act(ident, action)
            assert self.ros.spin_until(lambda: self.latest != ident, timeout_s), f"no observation after {ident}"

    def call(self, service: str) -> Trigger.Response:
        client = self.node.create_client(Trigger, service)
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(Trigger.Request())
        assert self.ros.spin_until(future.done, 10.0)
        return future.result()

    def settle(self, seconds_: float) -> None:
        """Spin for a while (a generous wait, not a timing assertion)."""
        self.ros.spin_until(lambda: False, seconds_)
