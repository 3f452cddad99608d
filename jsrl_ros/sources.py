"""Who may speak on a topic: one publishing node per input, one node per role.

DDS delivers a message from any participant that matches the topic, so a leftover
``joint_state_publisher`` or a second arbiter is heard as if it were the real one. Two
checks close that door, both through the ROS graph API:

* :class:`SourceFilter` (receivers): each message's publisher GID is looked up in the
  graph; only the configured node (or, when none is configured, the first node heard on
  the topic) is accepted. Others are dropped and counted by the caller, and raise a WARN.
* :class:`RoleGuard` (producers): a node that finds another publisher on a topic it owns
  refuses to start if it is the newcomer, and raises an alarm if it was there first.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from rclpy.node import Node

from jsrl_learning.config import ConfigError
from jsrl_ros.diagnostics import WARN, Health

MessageInfo = dict[str, Any]


class SourceFilter:
    """Accepts messages of one topic only from publishers of node ``owner`` (``""``: the first node heard)."""

    def __init__(self, node: Node, topic: str, owner: str = "", health: Health | None = None) -> None:
        self.node, self.owner, self.health = node, owner, health
        self.topic = node.resolve_topic_name(topic)
        self.rejected = 0
        self._verdicts: dict[bytes, bool] = {}  # publisher GID -> accepted

    def accepts(self, info: MessageInfo) -> bool:
        gid = bytes((info.get("publisher_gid") or {}).get("data") or b"")
        verdict = self._verdicts.get(gid)
        if verdict is None:
            verdict = self._judge(gid)
        if not verdict:
            self.rejected += 1
        return verdict

    def _judge(self, gid: bytes) -> bool:
        """Look the GID up in the graph (once per publisher: a new publisher is discovered before it is heard)."""
        names = {bytes(endpoint.endpoint_gid): endpoint.node_name
                 for endpoint in self.node.get_publishers_info_by_topic(self.topic)}
        name = names.get(gid)
        if name is None:
            return False  # not in the graph (yet): never cached, the next message asks again
        if not self.owner:
            self.owner = name
            self.node.get_logger().info(f"{self.topic}: accepting messages from node {name!r} only")
        verdict = name == self.owner
        self._verdicts[gid] = verdict
        if not verdict:
            self.node.get_logger().error(f"{self.topic}: node {name!r} publishes here, but only {self.owner!r} "
                                         f"may: its messages are dropped")
            if self.health is not None:
                self.health.alarm(f"foreign publisher on {self.topic}", WARN, f"node {name!r} (dropped)")
        return verdict


def filtered(source: SourceFilter, callback: Callable[[Any], None],
             on_reject: Callable[[str, Exception], None]) -> Callable[[Any, MessageInfo], None]:
    """A subscription callback (message, info) that hands only ``source``'s messages to ``callback``."""
    def receive(msg: Any, info: MessageInfo) -> None:
        if source.accepts(info):
            callback(msg)
        else:
            on_reject(source.topic, PermissionError(f"from a publisher that is not {source.owner!r}"))
    return receive


class RoleGuard:
    """Watches the topics a node alone may publish. Newcomer (within ``grace_s`` of start): refuse. Incumbent: alarm."""

    def __init__(self, node: Node, topics: Sequence[str], health: Health, grace_s: float = 3.0,
                 period_s: float = 1.0) -> None:
        self.node, self.health, self.grace_s = node, health, grace_s
        self.topics = [node.resolve_topic_name(topic) for topic in topics]
        self.started = time.monotonic()
        self.duplicates = 0
        node.create_timer(period_s, self.check)

    def check(self) -> None:
        """Raises ConfigError (the node exits with one line) if this node is the second owner of a topic."""
        for topic in self.topics:
            publishers = self.node.get_publishers_info_by_topic(topic)
            alarm = f"second publisher on {topic}"
            if len(publishers) <= 1:
                self.health.clear(alarm)
                continue
            others = sorted({f"{p.node_namespace.rstrip('/')}/{p.node_name}" for p in publishers})
            if time.monotonic() - self.started < self.grace_s:
                raise ConfigError(f"{self.node.get_name()}: {topic} already has a publisher ({', '.join(others)}): "
                                  f"another node plays this role; refusing to start a second one")
            if not self.health.active(alarm):
                self.duplicates += 1
                self.node.get_logger().error(f"{topic}: {len(publishers)} publishers ({', '.join(others)}): "
                                             f"a second node plays this role; its messages are not ours")
            self.health.alarm(alarm, WARN, f"{len(publishers)} publishers: {', '.join(others)}")
