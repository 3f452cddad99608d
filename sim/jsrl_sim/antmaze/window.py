"""MuJoCo's own window on an AntMaze env (``gui=True``): the passive viewer, looking down at the maze.

The viewer renders in a thread of its own. Closing it only asks that thread to stop; a process
that exits before it has (the sim bridge at shutdown) crashes in GLFW's atexit hook, so
``close`` waits for it.
"""
from __future__ import annotations

import threading

import mujoco
import mujoco.viewer

CLOSE_TIMEOUT_S = 5.0


class MazeWindow:
    """The passive viewer on ``model``/``data``; ``extent``: the maze's size (m), to frame it whole."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, extent: float) -> None:
        before = set(threading.enumerate())
        self._handle = mujoco.viewer.launch_passive(model, data, show_left_ui=False, show_right_ui=False)
        self._threads = set(threading.enumerate()) - before  # the viewer's render thread
        with self._handle.lock():
            self._handle.cam.lookat[:] = (0.0, 0.0, 0.0)
            self._handle.cam.distance = 1.2 * extent
            self._handle.cam.elevation = -60.0

    @property
    def is_open(self) -> bool:
        return self._handle.is_running()

    def sync(self) -> None:
        """Show the current state of ``data``."""
        self._handle.sync()

    def close(self) -> None:
        self._handle.close()
        for thread in self._threads:
            thread.join(timeout=CLOSE_TIMEOUT_S)
