"""Which messages of a failed attack are needed to fail it: bisection on a live graph.

A failed attack names a topic and a few hundred messages; a bug report needs the message.
:func:`isolate` replays halves of the sequence (each with the same flood) on a graph that is
restarted whenever an attack leaves it unusable, and keeps a half that still fails, until
one message is left or both halves are needed. Stalls are timing-dependent (a forged stamp
must beat the real one), so a replay that holds is not proof of innocence: the result is
"this much suffices", never "only this".
"""
from __future__ import annotations

from typing import Callable

from jsrl_bench.fuzz.campaign import LiveGraph, TopicResult
from jsrl_bench.fuzz.catalogue import InputTopic
from jsrl_bench.fuzz.strategies import Shot


class Replayer:
    """Attacks one topic of a graph with chosen shots; restarts the graph (``make``) when it is left unusable."""

    def __init__(self, make: Callable[[], LiveGraph], topic: str, flood: int) -> None:
        self.make, self.topic_name, self.flood = make, topic, flood
        self.graph: LiveGraph | None = None
        self.replays = 0

    def fails(self, shots: list[Shot]) -> TopicResult | None:
        """The failing result of an attack with ``shots``, or None if it held."""
        if self.graph is None or not self.graph.usable():
            self.close()
            self.graph = self.make()
            self.graph.start()
        topic: InputTopic = self.graph.topic(self.topic_name)
        self.replays += 1
        result = self.graph.attack(topic, shots=(shots, []), flood=self.flood)
        return None if result.held else result

    def close(self) -> None:
        if self.graph is not None:
            self.graph.close()
            self.graph = None


def isolate(replayer: Replayer, shots: list[Shot], max_replays: int = 12) -> tuple[list[Shot], TopicResult | None]:
    """The smallest failing part of ``shots`` bisection finds within ``max_replays``, and its failure."""
    failure = replayer.fails(shots)
    if failure is None:
        return shots, None  # did not fail again: timing-dependent, nothing to narrow
    while len(shots) > 1 and replayer.replays < max_replays:
        half = len(shots) // 2
        for part in (shots[:half], shots[half:]):
            result = replayer.fails(part)
            if result is not None:
                shots, failure = part, result
                break
        else:
            break  # both halves needed
    return shots, failure
