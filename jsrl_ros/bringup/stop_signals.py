"""How a bringup is asked to stop: SIGINT (Ctrl-C) and SIGTERM, handled on its main thread."""
from __future__ import annotations

import signal
import threading
from typing import Callable


class StopSignals:
    """SIGINT and SIGTERM stop the graph: the first is noted in ``first``, which the monitor's loop polls
    between spins and then stops the children in order; once stopping, more are only noted, so the stop
    is not cut short.

    The handler raises nothing. A KeyboardInterrupt raised from it lands wherever the main thread is,
    and inside rclpy's ``take_message`` pybind11 turns it into a RuntimeError ("Unable to convert call
    argument '0' to Python object") that escaped the loop's handler: a clean Ctrl-C exited with 1 (CI,
    test_fleet_graph). Installed here, not left to rclpy: rclpy's handler shut the context down, and the
    loop's next spin_once raised ExternalShutdownException. Nor to Python's default: a process started in
    the background by a shell inherits SIGINT ignored, and Python then leaves it ignored, so Ctrl-C from
    a test or a supervisor did nothing.
    """

    def __init__(self) -> None:
        self.first: str | None = None
        self._install(self._stop)

    def _stop(self, signum: int, _frame: object) -> None:
        self.first = self.first or ("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)

    def noted_only(self) -> None:
        self._install(lambda n, _f: print(f"{signal.Signals(n).name}: already stopping the graph"))

    @staticmethod
    def _install(handler: Callable[[int, object], None]) -> None:
        """On the main thread only (Python's rule): a caller running the bringup on another thread keeps its own."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, handler)
