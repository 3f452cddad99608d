"""A node's counters and health on the standard ``diagnostics`` topic.

``diagnostic_msgs/DiagnosticArray`` is what ROS tools (rqt_runtime_monitor, the
diagnostic aggregator) read; the embedded bringup reads it for progress, TensorBoard and
health (a node at ERROR is treated as dead), and tests read the ``dropped`` counters of
nodes in other processes from it.
"""
from __future__ import annotations

import threading
from typing import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import RELIABLE

TOPIC = topics.DIAGNOSTICS
OK, WARN, ERROR = 0, 1, 2  # DiagnosticStatus levels (bytes in the message)


class Health:
    """A node's active alarms by name; the worst one is the node's level (thread-safe: workers raise too)."""

    def __init__(self) -> None:
        self._alarms: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def alarm(self, name: str, level: int, message: str) -> None:
        with self._lock:
            self._alarms[name] = (level, message)

    def clear(self, name: str) -> None:
        with self._lock:
            self._alarms.pop(name, None)

    def active(self, name: str) -> bool:
        with self._lock:
            return name in self._alarms

    def status(self) -> tuple[int, str]:
        """``(worst level, "name: message; ...")``; ``(OK, "")`` without alarms."""
        with self._lock:
            alarms = sorted(self._alarms.items(), key=lambda item: -item[1][0])
        if not alarms:
            return OK, ""
        return alarms[0][1][0], "; ".join(f"{name}: {message}" for name, (_, message) in alarms)


def publish_counters(node: Node, values: Callable[[], Mapping[str, float]], period_s: float = 1.0,
                     health: Health | None = None) -> None:
    """Publish ``values()`` every ``period_s`` as one DiagnosticStatus named after the node, at ``health``'s level."""
    publisher = node.create_publisher(DiagnosticArray, TOPIC, RELIABLE)

    def tick() -> None:
        level, message = (OK, "") if health is None else health.status()
        msg = DiagnosticArray()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.status = [DiagnosticStatus(level=bytes([level]), name=node.get_name(), message=message,
                                       values=[KeyValue(key=k, value=f"{v:g}") for k, v in values().items()])]
        publisher.publish(msg)

    node.create_timer(period_s, tick)


def counters_of(msg: DiagnosticArray) -> dict[str, dict[str, float]]:
    """``{node name: {key: value}}`` of a DiagnosticArray; values that are not numbers are skipped."""
    out: dict[str, dict[str, float]] = {}
    for status in msg.status:
        values = out.setdefault(status.name, {})
        for kv in status.values:
            try:
                values[kv.key] = float(kv.value)
            except ValueError:
                continue
    return out


def levels_of(msg: DiagnosticArray) -> dict[str, tuple[int, str]]:
    """``{node name: (level as an int, message)}`` of a DiagnosticArray."""
    return {status.name: (int.from_bytes(status.level, "little"), status.message) for status in msg.status}
