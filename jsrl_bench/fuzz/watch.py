"""What the harness sees of a running graph, for the three properties.

* every node's counters and health level on ``diagnostics`` (``counters_of`` / ``levels_of``)
  and when it last reported — a node that stops reporting, or reports ERROR, is dead;
* the loop's progress: the newest step the bridge published (``jsrl/state``: where the attack
  aims its relative stamps) and when the bridge last published a *new* outcome on ``jsrl/step``;
* the arm: every command the real-arm bridge sends and the fake arm's own ``joint_states``,
  fed to :class:`ArmCommandCheck`.

The attacker publishes on some of these topics too, so every message is attributed to its
publishing node through the ROS graph (its publisher GID) and only the graph's own count.
"""
from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from jsrl_bench.fuzz.arm_check import ArmCommandCheck
from jsrl_bench.fuzz.stamps import StepNow
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.runtime.diagnostics import TOPIC as DIAGNOSTICS
from jsrl_ros.runtime.diagnostics import counters_of, levels_of

UNKNOWN = "_NODE_NAME_UNKNOWN_"  # what the graph API says before a new participant's node names are discovered


class Publishers:
    """Publisher GID -> node name, looked up in the ROS graph once per publisher (once its name is known)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._names: dict[bytes, str] = {}

    def name_of(self, topic: str, info: Any) -> str | None:
        gid = bytes((info.get("publisher_gid") or {}).get("data") or b"")
        if gid not in self._names:
            for endpoint in self.node.get_publishers_info_by_topic(topic):
                if endpoint.node_name != UNKNOWN:
                    self._names[bytes(endpoint.endpoint_gid)] = endpoint.node_name
        return self._names.get(gid)


class GraphWatch:
    """Subscribes the probe node to diagnostics, the bridge's steps and (``arm``) the arm's commands."""

    def __init__(self, node: Node, bridge: str, dt: float, arm: ArmCommandCheck | None = None,
                 arm_topics: dict[str, str] | None = None) -> None:
        self.node, self.bridge, self.arm = node, bridge, arm
        self.clock = StepClock(dt)
        self.publishers = Publishers(node)
        self.counters: dict[str, dict[str, float]] = {}
        self.levels: dict[str, tuple[int, str]] = {}
        self.heard: dict[str, float] = {}  # node -> monotonic time of its last diagnostics
        self.now = StepNow()
        self.state_names: list[str] = []
        self.newest_step = -1  # stamp key of the newest outcome the bridge published
        self.new_steps: deque[float] = deque(maxlen=1000)  # monotonic arrival times of new outcomes
        self.steps_seen = 0
        self.heard_from: Counter[tuple[str, str | None]] = Counter()  # (topic, publishing node): messages
        node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diagnostics, RELIABLE)
        self._from(JointState, topics.STATE, bridge, self._on_state)
        self._from(JointState, topics.STEP, bridge, self._on_step)
        if arm is not None:
            arm_names = arm_topics or {}
            self._from(TwistStamped, arm_names.get("twist", "servo_node/delta_twist_cmds"), bridge,
                       lambda m: arm.twist((m.twist.linear.x, m.twist.linear.y, m.twist.linear.z),
                                           (m.twist.angular.x, m.twist.angular.y, m.twist.angular.z)))
            self._from(JointTrajectory, arm_names.get("trajectory", "joint_trajectory_controller/joint_trajectory"),
                       bridge, lambda m: arm.trajectory(m.joint_names, [
                           (list(p.positions), p.time_from_start.sec + p.time_from_start.nanosec * 1e-9)
                           for p in m.points]))
            self._from(Float64MultiArray, arm_names.get("gripper", "gripper_controller/commands"), bridge,
                       lambda m: arm.gripper(list(m.data)))
            self._from(JointState, topics.JOINT_STATES, arm_names.get("arm", "fake_arm"),
                       lambda m: arm.measured(list(m.name), list(m.position)))

    def _from(self, msg_type: Any, topic: str, source: str, callback: Callable[[Any], None]) -> None:
        """Subscribe ``callback`` to the messages of node ``source`` on ``topic`` only."""
        resolved = self.node.resolve_topic_name(topic)

        def receive(msg: Any, info: Any) -> None:
            name = self.publishers.name_of(resolved, info)
            self.heard_from[(topic, name)] += 1
            if name == source:
                callback(msg)
        self.node.create_subscription(msg_type, topic, receive, RELIABLE)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        for name, values in counters_of(msg).items():
            self.counters[name] = values
            self.heard[name] = now
        self.levels.update(levels_of(msg))

    def _on_state(self, msg: JointState) -> None:
        self.state_names = list(msg.name)
        try:
            episode, step = self.clock.identity(msg.header.stamp)
        except ValueError:
            return
        if (episode, step) > (self.now.episode, self.now.step):
            self.now = StepNow(episode, step)

    def _on_step(self, msg: JointState) -> None:
        key = stamp_key(msg.header.stamp)
        if key > self.newest_step:
            self.newest_step = key
            self.new_steps.append(time.monotonic())
            self.steps_seen += 1

    def step_after(self, moment: float, n: int = 2) -> float | None:
        """When the ``n``-th new outcome after ``moment`` arrived (None: not yet). Two, not one: a real-arm
        bridge publishes an abandoned episode's last outcome when the next episode begins, before any step."""
        times = [t for t in self.new_steps if t > moment]
        return times[n - 1] if len(times) >= n else None

    def stepped_since(self, moment: float) -> bool:
        return self.step_after(moment) is not None

    def reported_since(self, nodes: list[str], moment: float) -> bool:
        return all(self.heard.get(n, 0.0) > moment for n in nodes)
