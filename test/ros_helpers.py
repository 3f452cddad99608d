"""Real-rclpy test plumbing: every test gets its own context and ROS_DOMAIN_ID."""
from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
# Domains 100..232: away from the default 0 that a user's robot may be on, and no higher than Fast DDS can
# map to UDP ports (233 fails: "Calculated port number is too high"). The suite opens ~110 contexts, so the
# allocator wraps round the range; a per-process offset keeps parallel pytest processes apart.
FIRST_DOMAIN, LAST_DOMAIN = 100, 232
_domains = (FIRST_DOMAIN + (os.getpid() + i) % (LAST_DOMAIN - FIRST_DOMAIN + 1) for i in itertools.count())


def fresh_domain_id() -> int:
    """The next test ROS domain, for a test's own processes (the harness draws from the same sequence)."""
    return next(_domains)


def bringup_command(harness: "RosHarness", graph: str, scenario: Path, out: Path,
                    *flags: str) -> tuple[list[str], dict[str, str]]:
    """``jsrl_bringup --graph GRAPH --headless`` on ``scenario``, in the harness's ROS domain: command and env."""
    env = {**os.environ, "ROS_DOMAIN_ID": str(harness.context.get_domain_id()), "AMENT_PREFIX_PATH": sys.prefix,
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    return [sys.executable, "-m", "jsrl_ros.bringup.main", "--graph", graph, "--headless", "--params", str(scenario),
            "--out", str(out), *flags], env


class RosHarness:
    """A private rclpy context with an executor that tests spin until a condition holds."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=fresh_domain_id())
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[Node] = []

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str) -> Node:
        return self.add(Node(name, context=self.context))

    def remove(self, node: Node) -> None:
        self.executor.remove_node(node)
        self.nodes.remove(node)
        node.destroy_node()

    def spin_until(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Spin until ``condition()``; False after ``timeout_s`` (a generous bound, not a timing assertion)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def close(self) -> None:
        for node in list(self.nodes):
            self.remove(node)
        self.executor.shutdown()
        rclpy.shutdown(context=self.context)


def harness() -> Iterator[RosHarness]:
    h = RosHarness()
    try:
        yield h
    finally:
        h.close()
