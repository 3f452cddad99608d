"""Which step identities a node accepts: stamps are validated once, at the edge, before anything acts on them.

A node follows the bridge's episodes. It accepts a step of its current episode (at most one
step past the last one it acted on, when it tracks steps), or the first step of the next
episode. Anything else is rejected with a reason the node counts: a stamp off the step
clock's grid or outside it (negative, past ``max_steps``) is *malformed*; an older episode
is *stale*; a later episode, or a step ahead of the bridge's cadence, is *future*. One
message therefore never starts an episode out of order, and never stalls the loop: a
single forged stamp is dropped while the real steps go on.

Liveness: if the steps of one other episode keep arriving for ``resync_s``, never more than
``gap_s`` apart, the gate follows them: a bridge that restarted mid-episode while this node
kept running, or the real bridge re-sending its unanswered step after a forged first step of
the next episode moved this node on. A forged stamp now and then never moves it.
"""
from __future__ import annotations

import time
from typing import Callable

from builtin_interfaces.msg import Time

from jsrl_ros.contract.step_clock import StepClock

MALFORMED, STALE, FUTURE = "malformed", "stale", "future"


class Rejected(ValueError):
    """A step identity this node must not act on; ``kind`` is what the node counts."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class StepGate:
    """Checks ``(episode, step)`` identities against the episode the node is in (``episode``, -1: none yet)."""

    def __init__(self, clock: StepClock, max_steps: int | None = None, resync_s: float = 5.0, gap_s: float = 1.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        last = clock.max_steps - 1  # the last step the clock can stamp
        self.max_steps = last if max_steps is None else min(int(max_steps), last)
        self.resync_s, self.gap_s = resync_s, gap_s
        self.episode = -1
        self.step: int | None = None  # the last step acted on in the current episode (None: not tracked)
        self._now = now
        self._future: tuple[int, float, float] | None = None  # (episode, first seen, last seen): a run of them

    def identity(self, stamp: Time) -> tuple[int, int]:
        """``(episode, step)`` of a stamp on the clock's grid and range; Rejected(MALFORMED) otherwise."""
        try:
            episode, step = self.clock.identity(stamp)
        except ValueError as exc:
            raise Rejected(MALFORMED, str(exc)) from None
        if episode < 0 or not 0 <= step <= self.max_steps:
            raise Rejected(MALFORMED, f"stamp {stamp.sec}.{stamp.nanosec:09d} is episode {episode} step {step}, "
                                      f"outside episodes >= 0, steps 0..{self.max_steps}")
        return episode, step

    def check(self, stamp: Time) -> tuple[int, int]:
        """The identity of an acceptable stamp; raises Rejected otherwise. Does not move the gate (see enter)."""
        episode, step = self.identity(stamp)
        if self.episode < 0 or (episode == self.episode and (self.step is None or step <= self.step + 1)) \
                or (episode == self.episode + 1 and step == 0):
            return episode, step
        if self._resynced(episode):
            return episode, step
        if episode < self.episode:
            raise Rejected(STALE, f"episode {episode} step {step} is older than the current episode {self.episode}")
        raise Rejected(FUTURE, f"episode {episode} step {step} does not follow episode {self.episode} step "
                               f"{'-' if self.step is None else self.step}")

    def enter(self, episode: int, step: int | None = None) -> None:
        """The node acted on ``episode`` (at ``step``, to hold later steps to the bridge's cadence)."""
        if episode != self.episode:
            self._future = None
        self.episode, self.step = episode, step

    def _resynced(self, episode: int) -> bool:
        now = self._now()
        if self._future is None or self._future[0] != episode or now - self._future[2] > self.gap_s:
            self._future = (episode, now, now)
            return False
        self._future = (episode, self._future[1], now)
        return now - self._future[1] >= self.resync_s
