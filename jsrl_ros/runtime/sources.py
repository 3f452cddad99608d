"""Who may speak on a topic: one publishing node per input, one node per role, checked in the ROS graph.

DDS delivers a message from any participant that matches the topic, so a leftover
``joint_state_publisher`` or a second arbiter is heard as if it were the real one. The
graph API says who publishes where; :class:`GraphWatch` asks it once a period:

* an input topic (:meth:`GraphWatch.expect`) may have one publishing node: the configured
  ``owner``, or the first node seen. Any other is *foreign*: logged, counted, and raised as
  a WARN on ``diagnostics``; the node asks :meth:`GraphWatch.trusted` where that matters
  (the real-arm bridge holds the arm while its joint readings have a foreign publisher);
* a topic this node alone may publish (:meth:`GraphWatch.own`): another publisher raises an
  alarm. If it is a second node of this node's name (the same role started twice), the
  newcomer (within ``grace_s`` of its start) refuses to run: exit with one line.

Per-message publisher checks (``MessageInfo.publisher_gid``) would be finer, but rclpy's
EventsExecutor, which the nodes spin on, cannot deliver message info (rclpy 9.1.2: a
two-argument callback raises SystemError); the step gate and the measured-state checks
catch what a foreign publisher says before the watch has seen it.
"""
from __future__ import annotations

import time
from typing import Sequence

from rclpy.node import Node

from jsrl_learning.config import ConfigError
from jsrl_ros.runtime.diagnostics import WARN, Health

UNKNOWN = "_NODE_NAME_UNKNOWN_"  # what the graph API names a publisher whose node is not discovered yet


class GraphWatch:
    """One timer that checks the publishers of a node's inputs and of the topics it owns."""

    def __init__(self, node: Node, health: Health, grace_s: float = 3.0, period_s: float = 1.0) -> None:
        self.node, self.health, self.grace_s = node, health, grace_s
        self.started = time.monotonic()
        self.owners: dict[str, str] = {}  # input topic -> its publishing node ("": not seen yet)
        self.foreign: dict[str, list[str]] = {}  # input topic -> other nodes publishing there now
        self.owned: list[str] = []
        self.resolved: dict[str, str] = {}  # the names inputs were given -> full names (trusted() runs per tick)
        self.detections = 0  # foreign publishers and second owners found (each counted once)
        node.create_timer(period_s, self.check)

    def expect(self, topic: str, owner: str = "") -> None:
        """Only node ``owner`` (``""``: the first node seen) may publish on input ``topic``."""
        self.resolved[topic] = self.node.resolve_topic_name(topic)
        self.owners[self.resolved[topic]] = owner

    def own(self, topics: Sequence[str]) -> None:
        """This node alone may publish on ``topics``."""
        self.owned += [self.node.resolve_topic_name(topic) for topic in topics]

    def trusted(self, topic: str) -> bool:
        """No foreign node publishes on input ``topic`` (as of the last check)."""
        return not self.foreign.get(self.resolved[topic])

    def check(self) -> None:
        """One look at the graph. Raises ConfigError if this node is the newcomer in a role another node plays."""
        for topic, owner in self.owners.items():
            names = sorted({p.node_name for p in self.node.get_publishers_info_by_topic(topic)} - {UNKNOWN})
            if not owner and len(names) == 1:
                owner = self.owners[topic] = names[0]
                self.node.get_logger().info(f"{topic}: reading node {owner!r} only")
            self._report(f"foreign publisher on {topic}", topic, [n for n in names if n != owner],
                         f"only {owner or 'one node'!r} may publish here")
        for topic in self.owned:
            publishers = [p for p in self.node.get_publishers_info_by_topic(topic) if p.node_name != UNKNOWN]
            others = [f"{p.node_namespace.rstrip('/')}/{p.node_name}" for p in publishers]
            twins = [p for p in publishers if p.node_name == self.node.get_name()]
            if len(twins) > 1 and time.monotonic() - self.started < self.grace_s:
                raise ConfigError(f"{self.node.get_name()}: {topic} already has a publisher ({', '.join(others)}): "
                                  f"another node plays this role; refusing to start a second one")
            self._report(f"second publisher on {topic}", topic, others if len(publishers) > 1 else [],
                         "a second node plays this role")

    def _report(self, alarm: str, topic: str, nodes: list[str], why: str) -> None:
        if topic in self.owners:
            self.foreign[topic] = nodes
        if not nodes:
            self.health.clear(alarm)
            return
        if not self.health.active(alarm):
            self.detections += 1
            self.node.get_logger().error(f"{topic}: published by {', '.join(nodes)}: {why}")
        self.health.alarm(alarm, WARN, ", ".join(nodes))
