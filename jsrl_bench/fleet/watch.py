"""The fleet bench's own ROS node: the nodes' diagnostics counters in every namespace, and checkpoint
announcements, in a private context on the bench's ROS domain (rclpy is imported only here)."""
from __future__ import annotations

import time
from typing import Callable


class FleetWatch:
    def __init__(self, domain: int, diagnostics: list[str], announcements: list[str] = ()) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String

        from jsrl_ros.contract.qos import LATCHED, RELIABLE
        from jsrl_ros.runtime.diagnostics import counters_of

        self.rclpy, self.context = rclpy, Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("jsrl_bench_fleet", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        #: diagnostics topic -> node name -> its latest counters
        self.counters: dict[str, dict[str, dict[str, float]]] = {topic: {} for topic in diagnostics}
        #: checkpoint topic -> monotonic times of its announcements
        self.announced: dict[str, list[float]] = {topic: [] for topic in announcements}
        for topic in diagnostics:
            self.node.create_subscription(DiagnosticArray, topic,
                                          lambda m, t=topic: self.counters[t].update(counters_of(m)), RELIABLE)
        for topic in announcements:
            self.node.create_subscription(String, topic, lambda _, t=topic: self.announced[t].append(time.monotonic()),
                                          LATCHED)

    def value(self, topic: str, node: str, key: str) -> float:
        return self.counters[topic].get(node, {}).get(key, 0.0)

    def spin_until(self, condition: Callable[[], bool], timeout_s: float, check: Callable[[], None] = lambda: None
                   ) -> bool:
        """Spin until ``condition()`` or ``timeout_s``; ``check()`` raises if the measured processes died."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            check()
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def spin_for(self, seconds: float, check: Callable[[], None] = lambda: None) -> None:
        self.spin_until(lambda: False, seconds, check)

    def publisher(self, msg_type: type, topic: str, qos):
        return self.node.create_publisher(msg_type, topic, qos)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.context)
