"""One way to run a node: init, spin on the EventsExecutor, shut down cleanly on Ctrl-C."""
from __future__ import annotations

import signal
import sys
import threading
import traceback
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from jsrl_learning.config import ConfigError
from jsrl_ros.runtime.checked_node import parameter_sections, reject_unknown_parameters
from jsrl_ros.runtime.diagnostics import WARN, Health
from jsrl_ros.runtime.param_files import command_line_sections


def spin_node(make_node: Callable[[], Node], argv: list[str] | None = None) -> int:
    """Create the node after ``rclpy.init`` and spin it until shutdown; returns an exit code.

    A configuration error is one clear line and exit code 2, not a traceback; the parameters that
    argv's params files and ``-p`` rules give the node are checked against what it declares
    (jsrl_ros/runtime/checked_node.py) before it spins, so before it first reports on ``diagnostics``.
    EventsExecutor: lowest latency on these 2-core machines (docs/architecture.md).
    SIGINT/SIGTERM only ask the loop to stop: rclpy's own handler would raise
    KeyboardInterrupt inside whatever callback runs, leaving its work (a bag being written,
    a step half done) inconsistent for ``destroy_node``; here the callback finishes first.
    No exception escapes a callback: one that a node did not handle is logged with its
    traceback, counted, and raised as a WARN on the node's ``health`` (if it has one); the
    node goes on with its next message. A ConfigError from a callback (a node refusing a
    role another node already plays) still stops it with one line and exit code 2.
    """
    stop = threading.Event()
    args = sys.argv if argv is None else argv
    try:
        sections = command_line_sections(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    node = None
    try:
        with parameter_sections(sections):
            node = make_node()
        reject_unknown_parameters(node, sections)
        executor = EventsExecutor()
        executor.add_node(node)
        failures = 0
        while rclpy.ok() and not stop.is_set():  # EventsExecutor.spin() dispatches nothing in rclpy 9.1.2
            try:  # (measured); spin_once does
                executor.spin_once(timeout_sec=1.0)
            except (ConfigError, ExternalShutdownException):
                raise
            except Exception as exc:  # a bug or an input nobody foresaw: report it, keep the node alive
                failures += 1
                report_callback_failure(node, exc, failures)
    except ExternalShutdownException:
        pass
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


def report_callback_failure(node: Node, exc: Exception, failures: int) -> None:
    """Log an exception that escaped a callback (with its traceback) and raise it on the node's health."""
    where = "".join(traceback.format_exception(exc)).rstrip()
    node.get_logger().error(f"a callback failed ({failures} so far); the node goes on:\n{where}",
                            throttle_duration_sec=2.0)
    health = getattr(node, "health", None)
    if isinstance(health, Health):
        health.alarm("callback failures", WARN, f"{failures}, last: {exc!r}")
