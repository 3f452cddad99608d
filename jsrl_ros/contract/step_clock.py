"""The bridge's step clock: a header stamp that *is* the step identity (episode, step).

Episode ``e``, step ``t`` is stamped ``e * EPISODE_SPAN_S + t * dt``. Stamps are unique and
monotonic, so bags stay ordered, and every per-step message decodes back to ``(e, t)``
exactly — observation, action and reward join on equality, never on nearest time.
"""
from __future__ import annotations

from builtin_interfaces.msg import Time

EPISODE_SPAN_S = 10_000  # seconds of step-clock time reserved per episode


class StepClock:
    """Encodes and decodes step identities for a fixed control period ``dt`` (seconds)."""

    def __init__(self, dt: float) -> None:
        if not (dt > 0 and dt * 1e9 >= 1):
            raise ValueError(f"StepClock: dt must be a positive period in seconds, got {dt!r}")
        self.dt_ns = round(dt * 1e9)
        self.max_steps = (EPISODE_SPAN_S * 10**9) // self.dt_ns

    def stamp(self, episode: int, step: int) -> Time:
        if episode < 0 or not 0 <= step < self.max_steps:
            raise ValueError(f"StepClock: episode {episode} / step {step} outside the clock's range")
        ns = step * self.dt_ns
        return Time(sec=episode * EPISODE_SPAN_S + ns // 10**9, nanosec=ns % 10**9)

    def identity(self, stamp: Time) -> tuple[int, int]:
        """``(episode, step)`` of a stamp; ValueError if it is not on this clock's grid."""
        episode, offset_s = divmod(stamp.sec, EPISODE_SPAN_S)
        ns = offset_s * 10**9 + stamp.nanosec
        step, rest = divmod(ns, self.dt_ns)
        if rest:
            raise ValueError(f"stamp {stamp.sec}.{stamp.nanosec:09d} is not a step of a dt={self.dt_ns} ns clock")
        return int(episode), int(step)


def stamp_key(stamp: Time) -> int:
    """A hashable exact key for joining messages by stamp."""
    return stamp.sec * 10**9 + stamp.nanosec
