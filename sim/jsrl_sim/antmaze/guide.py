"""The scripted AntMaze guide: BFS waypoints through the maze, walked with the trot gait.

It implements the project's guide interface (``act(obs) -> action``, ``reset()``) from the
flat observation alone plus the maze's wall map (privileged, static knowledge), so the same
object can run beside the env, inside a ROS arbiter node, or while generating datasets.
Each step it re-plans from the ant's current cell (a push or a slip costs nothing) and aims
at the furthest path waypoint such that it and every waypoint before it can be reached in a
straight line keeping ``wall_margin`` metres off every wall; if none can, it aims at the next
cell's centre, which is always safe because two adjacent free cells form one open rectangle.
"""
from __future__ import annotations

import numpy as np

from jsrl_sim.antmaze.gait import GaitParams, TrotGait
from jsrl_sim.antmaze.maze import MAZES, Cell, MazeLayout
from jsrl_sim.antmaze.observation import GOAL, JOINT_POS, JOINT_VEL, QUAT, XY


class AntMazeGuide:
    """Walks the ant to the goal in ``obs``; ``maze`` is one of ``MAZES`` ("umaze", "medium", "large")."""

    def __init__(
        self, maze: str, gait: GaitParams = GaitParams(), wall_margin: float = 1.0, sample_spacing: float = 0.25
    ) -> None:
        if maze not in MAZES:
            raise ValueError(f"AntMazeGuide: unknown maze {maze!r}; known: {', '.join(MAZES)}")
        self.layout = MazeLayout(MAZES[maze].walls)
        self.wall_margin = wall_margin
        self.sample_spacing = sample_spacing
        self._gait = TrotGait(gait)
        self._goal_cell: Cell | None = None
        self._distances = np.empty(0)

    def reset(self) -> None:
        """Restart the gait cycle (the plan is rebuilt from every observation anyway)."""
        self._gait.reset()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The 8-dim torque action for one env step of the flat AntMaze observation."""
        obs = np.asarray(obs, dtype=np.float64)
        xy = obs[XY]
        aim = self.aim_point(xy, obs[GOAL])
        heading = aim - xy
        world_dir = heading / max(np.linalg.norm(heading), 1e-6)
        yaw = _yaw(obs[QUAT])
        c, s = np.cos(yaw), np.sin(yaw)
        body_dir = np.array([c * world_dir[0] + s * world_dir[1], -s * world_dir[0] + c * world_dir[1]])
        return self._gait.act(body_dir, obs[JOINT_POS], obs[JOINT_VEL])

    def waypoints(self, xy: np.ndarray, goal: np.ndarray) -> list[np.ndarray]:
        """Centres of the cells on the shortest path after the ant's own cell, ending at the goal point."""
        goal_cell = self.layout.xy_to_cell(goal)
        if goal_cell != self._goal_cell:
            self._goal_cell = goal_cell
            self._distances = self.layout.distances_to(goal_cell)
        cells = self.layout.path(self.layout.nearest_reachable(xy, self._distances), self._distances)
        return [self.layout.cell_to_xy(c) for c in cells[1:-1]] + [np.asarray(goal, dtype=np.float64)]

    def aim_point(self, xy: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """The last of the consecutive waypoints reachable in a straight line with ``wall_margin`` clearance.

        Scanning forwards and stopping at the first blocked waypoint keeps this to a few line checks
        per step even on the large maze; the next waypoint is the fallback (always safe, see above).
        """
        points = self.waypoints(xy, goal)
        aim = points[0]
        for point in points[1:]:
            if not self._clear_line(xy, point):
                break
            aim = point
        return aim

    def _clear_line(self, start: np.ndarray, end: np.ndarray) -> bool:
        length = float(np.linalg.norm(end - start))
        n = max(int(np.ceil(length / self.sample_spacing)), 1)
        t = np.arange(1, n + 1)[:, None] / n
        return bool(np.all(self.layout.clearance(start + t * (end - start)) >= self.wall_margin))


def _yaw(quat: np.ndarray) -> float:
    """Heading of a (w, x, y, z) quaternion about the world z axis."""
    w, x, y, z = quat
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))
