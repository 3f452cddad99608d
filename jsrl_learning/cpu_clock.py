"""Process CPU seconds per part of a run.

A run's total CPU mixes what its budget is about (collecting and learning) with what its
settings add (how often and how long it evaluates), so the trainer keeps them apart: a speed
budget "per 50k env steps" reads ``collect_and_learn`` alone.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class CPUClock:
    """``time.process_time()`` (every thread of the process) summed per named part."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - start
