"""Publish a generated sequence of hostile messages onto a running graph, then a flood.

:func:`draw_shots` turns a hypothesis strategy into a reproducible list (a fixed seed, no
example database, generation only: nothing is shrunk, because the system under test is a
live graph, not a pure function). :class:`Attacker` publishes them from the probe node:
the sequence paced (so the loop moves between shots and relative stamps land on different
steps), then the same shots cycled unpaced as a flood (and, for some topics, kept up for a while
at a steady rate: ``InputTopic.sustain_s``), then the publisher is destroyed, so a
latched topic does not keep serving the attacker's last message to late joiners.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings
from hypothesis import strategies as st

from jsrl_bench.fuzz.catalogue import SUSTAIN_HZ, InputTopic
from jsrl_bench.fuzz.probe import Probe
from jsrl_bench.fuzz.stamps import StepNow
from jsrl_bench.fuzz.strategies import Shot

FLOOD_BYTES = 40 * 2**20  # a flood of large frames stops at this many bytes


def draw_shots(strategy: st.SearchStrategy[Shot], n: int, seed: int, chunk: int = 10) -> list[Shot]:
    """``n`` examples of ``strategy``, the same for the same seed. Drawn as lists of ``chunk``: hypothesis
    mutates one example into the next, so single draws come out as near-copies; the elements of one
    list are drawn independently. The first list is skipped: hypothesis starts with the simplest one."""
    shots: list[Shot] = []
    size = max(1, min(n, chunk))
    for attempt in range(3):  # hypothesis may stop early (few distinct examples): draw again, next seed
        if len(shots) >= n:
            break
        lists = 0

        @hypothesis_seed(seed + attempt)
        @settings(max_examples=2 * math.ceil((n - len(shots)) / size) + 1, database=None, phases=[Phase.generate],
                  deadline=None, derandomize=False, suppress_health_check=list(HealthCheck),
                  verbosity=Verbosity.quiet)
        @given(st.lists(strategy, min_size=size, max_size=size))
        def collect(drawn: list[Shot]) -> None:
            nonlocal lists
            lists += 1
            if lists > 1:
                shots.extend(drawn)

        collect()
    return shots[:n]


@dataclass
class Sent:
    """What one attack published."""

    shots: int = 0  # the paced sequence
    flood: int = 0  # the unpaced repeats
    publish_errors: int = 0  # messages rclpy refused to send (counted, not tried again)
    subscribers: int = 0  # readers matched when the attack began
    started: float = 0.0  # monotonic
    stopped: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.shots + self.flood


class Attacker:
    def __init__(self, probe: Probe, now: Callable[[], StepNow], dt: float) -> None:
        self.probe, self.now, self.dt_ns = probe, now, round(dt * 1e9)

    def attack(self, topic: InputTopic, shots: list[Shot], flood: int, pace_s: float = 0.01,
               match_timeout_s: float = 10.0, known: int = 0) -> Sent:
        """``shots``: the first ``known`` are issue 11's probes; a sustained phase repeats those (or all)."""
        node = self.probe.node
        publisher = node.create_publisher(topic.msg_type, topic.topic, topic.qos)
        sent = Sent()
        try:
            self.probe.spin_until(lambda: publisher.get_subscription_count() > 0, match_timeout_s)
            sent.subscribers = publisher.get_subscription_count()
            sent.started = time.monotonic()
            for shot in shots:
                self._publish(publisher, shot, sent)
                sent.shots += 1
                self.probe.spin_for(pace_s)
            if shots:
                size = max(1, sum(_size(s.msg) for s in shots) // len(shots))
                for i in range(min(flood, max(len(shots), FLOOD_BYTES // size))):
                    self._publish(publisher, shots[i % len(shots)], sent)
                    sent.flood += 1
                    if i % 50 == 0:
                        self.probe.drain()
                self._sustain(publisher, topic, shots[:known] or shots, sent)
            sent.stopped = time.monotonic()
            self.probe.spin_for(0.3)  # a reliable writer delivers what it holds before it goes
        finally:
            node.destroy_publisher(publisher)
        return sent

    def _sustain(self, publisher: Any, topic: InputTopic, shots: list[Shot], sent: Sent) -> None:
        """The shots again at SUSTAIN_HZ for ``topic.sustain_s``: a hostile source that keeps talking."""
        end, i = time.monotonic() + topic.sustain_s, 0
        while time.monotonic() < end:
            self._publish(publisher, shots[i % len(shots)], sent)
            sent.flood += 1
            i += 1
            self.probe.spin_for(1.0 / SUSTAIN_HZ)

    def _publish(self, publisher: Any, shot: Shot, sent: Sent) -> None:
        if shot.stamp is not None:
            shot.msg.header.stamp = shot.stamp.resolve(self.now(), self.dt_ns)
        try:
            publisher.publish(shot.msg)
        except Exception as exc:  # the attacker's own limits (rclpy refusing a message) are not the graph's
            sent.publish_errors += 1
            if len(sent.errors) < 5:
                sent.errors.append(f"{shot}: {exc!r}"[:300])


def _size(msg: Any) -> int:
    data = getattr(msg, "data", None)
    return 64 + (len(data) if isinstance(data, (bytes, bytearray, list, str)) or hasattr(data, "__len__") else 0)
