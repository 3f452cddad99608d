"""Header stamps chosen relative to the live loop, resolved when the message goes out.

Why relative: the stamps that hurt are defined by where the loop is — the step being
answered right now (a duplicate that triggers a re-send), the next episode's first step,
episode e + 50 (the stall of issue 11), the previous episode. A stamp drawn before the
attack as an absolute time would almost never land on them. So a strategy draws a
:class:`Stamp` (an offset, or an absolute value for the negative / far-future / off-range
ones) and :meth:`Stamp.resolve` turns it into a ``builtin_interfaces/Time`` against the step
the graph is at when the message is published.
"""
from __future__ import annotations

from dataclasses import dataclass

from builtin_interfaces.msg import Time
from hypothesis import strategies as st

from jsrl_ros.contract.step_clock import EPISODE_SPAN_S

INT32_MIN, INT32_MAX, UINT32_MAX = -(2**31), 2**31 - 1, 2**32 - 1
NS = 10**9


@dataclass(frozen=True)
class StepNow:
    """The step the loop is at: the newest (episode, step) the bridge published."""

    episode: int = 0
    step: int = 0


@dataclass(frozen=True)
class Stamp:
    """A stamp to resolve later. ``relative``: the current step moved by ``episodes`` / ``steps``
    (``from_start``: ``steps`` counts from the episode's step 0), plus ``extra_ns`` (off the step
    grid unless a multiple of dt). ``absolute``: ``sec`` / ``nanosec`` as given (nanosec may
    exceed 1e9: a malformed Time)."""

    kind: str  # "relative" | "absolute"
    episodes: int = 0
    steps: int = 0
    extra_ns: int = 0
    from_start: bool = False
    sec: int = 0
    nanosec: int = 0

    def resolve(self, now: StepNow, dt_ns: int) -> Time:
        if self.kind == "absolute":
            return Time(sec=self.sec, nanosec=self.nanosec)
        step = self.steps + (0 if self.from_start else now.step)
        total = (now.episode + self.episodes) * EPISODE_SPAN_S * NS + step * dt_ns + self.extra_ns
        sec, nanosec = divmod(total, NS)
        if not INT32_MIN <= sec <= INT32_MAX:  # beyond what a Time can hold: the nearest one it can
            sec, nanosec = (INT32_MAX, NS - 1) if sec > 0 else (INT32_MIN, 0)
        return Time(sec=int(sec), nanosec=int(nanosec))

    def __str__(self) -> str:
        if self.kind == "absolute":
            return f"absolute {self.sec}.{self.nanosec:09d}"
        step = f"step {self.steps}" if self.from_start else f"t{self.steps:+d}"
        return " ".join([f"episode e{self.episodes:+d}", step] + ([f"{self.extra_ns:+d} ns"] if self.extra_ns else []))


def current(steps: int = 0) -> Stamp:
    """The step the loop is at (moved by ``steps``): what a well-formed message carries."""
    return Stamp("relative", steps=steps)


def valid_stamps() -> st.SearchStrategy[Stamp]:
    """Stamps a receiver may accept: this step, the next one, the next episode's first step."""
    return st.one_of(st.just(current()), st.just(current(1)), st.just(Stamp("relative", episodes=1, from_start=True)))


def hostile_stamps() -> st.SearchStrategy[Stamp]:
    """Every kind of wrong stamp: old, future episodes (e + 50), off the grid, negative, far future,
    beyond the episode's steps, nanosec >= 1e9, zero."""
    relative = st.builds(
        Stamp, kind=st.just("relative"),
        episodes=st.one_of(st.sampled_from([0, -1, 1, 50, 2, -50]), st.integers(-1000, 1000)),
        steps=st.one_of(st.sampled_from([0, -1, 1, 2, 10**6]), st.integers(-100, 100), st.integers(-10**9, 10**9)),
        extra_ns=st.one_of(st.just(0), st.sampled_from([1, -1, 1234, 50_000_000]), st.integers(-NS, NS)),
        from_start=st.booleans())
    absolute = st.builds(
        Stamp, kind=st.just("absolute"),
        sec=st.one_of(st.sampled_from([0, -1, -10_000, INT32_MIN, INT32_MAX, 3, 1_700_000_000]),
                      st.integers(INT32_MIN, INT32_MAX)),
        nanosec=st.one_of(st.sampled_from([0, 1, 123, NS - 1, NS, UINT32_MAX]), st.integers(0, UINT32_MAX)))
    return st.one_of(relative, absolute)


def any_stamps() -> st.SearchStrategy[Stamp]:
    return st.one_of(valid_stamps(), hostile_stamps())
