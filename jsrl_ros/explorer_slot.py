"""The explorer the control loop acts with, replaced in the background when new weights are announced.

Loading a checkpoint (unzip, rebuild the networks) takes far longer than a control step, so
it runs on a worker thread; the control loop only reads :attr:`ExplorerSlot.current`, one
reference, swapped atomically once the new explorer is complete. Announcements that arrive
while a load runs coalesce: only the newest path is loaded next.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class ExplorerSlot(Generic[T]):
    """``load(path)`` builds the new value on the worker; ``report(path, error)`` hears how each load went."""

    def __init__(self, load: Callable[[str], T], report: Callable[[str, Exception | None], None]) -> None:
        self.current: T | None = None
        self.loads = self.failures = 0
        self._load, self._report = load, report
        self._wake = threading.Condition()
        self._requested: str | None = None
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="explorer-loader", daemon=True)
        self._worker.start()

    def request(self, path: str) -> None:
        """Load ``path`` next (replacing any request not yet started); returns at once."""
        with self._wake:
            self._requested = path
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._worker.join(timeout=10.0)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._requested is not None or self._closed)
                if self._closed:
                    return
                path, self._requested = self._requested, None
            try:
                value = self._load(path)
            except Exception as exc:  # a bad file must never take the control loop down
                self.failures += 1
                self._report(path, exc)
                continue
            self.current = value
            self.loads += 1
            self._report(path, None)
