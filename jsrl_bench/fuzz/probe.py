"""The harness's own rclpy context, node and executor, in the graph's ROS domain.

A SingleThreadedExecutor on purpose: the watch needs each message's publisher (its
MessageInfo) to tell the graph's messages from the attacker's, and rclpy's EventsExecutor
cannot dispatch callbacks that take a MessageInfo (``SystemError: null argument to internal
routine``, rclpy 9.1.2, measured).
"""
from __future__ import annotations

import time
from typing import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class Probe:
    def __init__(self, domain: int, name: str = "jsrl_fuzz") -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.executor.spin_once(timeout_sec=min(left, 0.05))

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until ``condition()``; False after ``timeout_s`` (a liveness bound, not a timing assertion)."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def drain(self, callbacks: int = 20) -> None:
        """Run up to ``callbacks`` waiting callbacks without blocking (during a flood: the watch keeps up)."""
        for _ in range(callbacks):
            self.executor.spin_once(timeout_sec=0.0)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
