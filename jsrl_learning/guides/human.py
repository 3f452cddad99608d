"""A human as the guide: the latest teleop command, never a stale one.

A teleop device publishes commands at its own rate; the control loop reads the newest.
A command older than ``timeout_s`` means the human let go (or the link dropped), so the
guide returns the idle action (e.g. zeros = hold still) instead of replaying the old
command, which could drive a real robot into something.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np


class LatestCommand:
    """Thread-safe holder of the newest command and its time stamp (older ones are dropped)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._latest: tuple[Any, float] | None = None

    def put(self, action: Any, stamp: float | None = None) -> None:
        """Store ``action`` stamped ``stamp`` (default: now on ``clock``)."""
        stamp = self.clock() if stamp is None else float(stamp)
        with self._lock:
            self._latest = (np.array(action, copy=True), stamp)

    def latest(self) -> tuple[Any, float] | None:
        with self._lock:
            return self._latest

    def clear(self) -> None:
        with self._lock:
            self._latest = None


class HumanGuide:
    """Acts with the latest command if it is at most ``timeout_s`` old, else ``idle_action``.

    ``source.clock`` and ``clock`` must be the same time base. ``last_command_fresh`` tells
    whether the last ``act`` used a human command (for a "human in control" indicator).
    """

    def __init__(self, source: LatestCommand, timeout_s: float, idle_action: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not timeout_s > 0:
            raise ValueError(f"HumanGuide: timeout_s must be > 0, got {timeout_s!r}")
        self.source, self.timeout_s, self.clock = source, float(timeout_s), clock
        self.idle_action = np.array(idle_action, copy=True)
        self.last_command_fresh = False

    def act(self, obs: Any) -> Any:
        command = self.source.latest()
        self.last_command_fresh = command is not None and self.clock() - command[1] <= self.timeout_s
        if not self.last_command_fresh:
            return self.idle_action.copy()
        return command[0].copy()

    def reset(self) -> None:
        """Forget the previous episode's command: a new episode starts from idle."""
        self.source.clear()
        self.last_command_fresh = False
