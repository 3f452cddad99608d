"""A diagnostics probe run inside a network namespace (a lab's host): prints ``{"topic", "counters"}`` as a
JSON line per DiagnosticArray received on each topic given; :func:`latest_counters` reads its log back.

Why a process of its own: the bench's and the tests' own process sits outside the namespaces and can
reach no DDS participant inside them."""
from __future__ import annotations

import json
import sys


def latest_counters(log: str, topics: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Topic -> node -> that node's latest counters, from a probe's log (its other lines skipped)."""
    latest: dict[str, dict[str, dict[str, float]]] = {topic: {} for topic in topics}
    for line in log.splitlines():
        if line.startswith("{"):
            seen = json.loads(line)
            if seen["topic"] in latest:
                latest[seen["topic"]].update(seen["counters"])
    return latest


def main(topics: list[str]) -> None:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    from jsrl_ros.contract.qos import RELIABLE
    from jsrl_ros.runtime.diagnostics import counters_of

    rclpy.init()
    node = rclpy.create_node("jsrl_diag_probe")
    for topic in topics:
        node.create_subscription(DiagnosticArray, topic, lambda m, t=topic: print(
            json.dumps({"topic": t, "counters": counters_of(m)}), flush=True), RELIABLE)
    rclpy.spin(node)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
