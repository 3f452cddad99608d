"""A node's counters (dropped messages, updates, ...) on the standard ``diagnostics`` topic.

``diagnostic_msgs/DiagnosticArray`` is what ROS tools (rqt_runtime_monitor, the
diagnostic aggregator) read; the embedded bringup reads it for progress and TensorBoard,
and tests read the ``dropped`` counters of nodes in other processes from it.
"""
from __future__ import annotations

from typing import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from jsrl_ros.qos import RELIABLE

TOPIC = "diagnostics"


def publish_counters(node: Node, values: Callable[[], Mapping[str, float]], period_s: float = 1.0) -> None:
    """Publish ``values()`` every ``period_s`` as one DiagnosticStatus named after the node."""
    publisher = node.create_publisher(DiagnosticArray, TOPIC, RELIABLE)

    def tick() -> None:
        msg = DiagnosticArray()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.status = [DiagnosticStatus(level=DiagnosticStatus.OK, name=node.get_name(), message="",
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
