"""The three D4RL AntMaze layouts, their cell geometry and a BFS planner that yields waypoints.

The maps are D4RL's (as in gymnasium-robotics' maps.py; 1 = wall block, 0 = free), written
out here so that importing this module does not load gymnasium-robotics and MuJoCo (see
camera.py for why that order matters). The start and goal cells are
D4RL's evaluation cells (``antmaze-*-v2``: start top-left, goal at the far end), so a
policy's success here means the same task as in the JSRL paper's AntMaze results.
Geometry follows gymnasium-robotics: square cells of ``CELL_SIZE`` metres, the map centred
on the world origin, row 0 at the top (+y) and column 0 at the left (-x).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

CELL_SIZE = 4.0  # metres; gymnasium-robotics' AntMaze maze_size_scaling

Cell = tuple[int, int]  # (row, col)


@dataclass(frozen=True)
class MazeSpec:
    """One maze task: wall map, D4RL start/goal cells and D4RL's episode length."""

    name: str
    walls: tuple[tuple[int, ...], ...]  # 1 = wall block, 0 = free cell
    start: Cell
    goal: Cell
    max_steps: int

    def gym_map(self) -> list[list[int | str]]:
        """The map in gymnasium-robotics' format: 'r' marks the reset cell, 'g' the goal cell."""
        rows = [list(row) for row in self.walls]
        rows[self.start[0]][self.start[1]] = "r"
        rows[self.goal[0]][self.goal[1]] = "g"
        return rows


def _walls(*rows: str) -> tuple[tuple[int, ...], ...]:
    """Rows drawn as strings of '1' (wall) and '0' (free)."""
    return tuple(tuple(int(ch) for ch in row) for row in rows)


MAZES: dict[str, MazeSpec] = {
    "umaze": MazeSpec(
        "umaze",
        _walls("11111", "10001", "11101", "10001", "11111"),
        start=(1, 1),
        goal=(3, 1),
        max_steps=700,
    ),
    "medium": MazeSpec(
        "medium",
        _walls("11111111", "10011001", "10010001", "11000111", "10010001", "10100101", "10001001", "11111111"),
        start=(1, 1),
        goal=(6, 6),
        max_steps=1000,
    ),
    "large": MazeSpec(
        "large",
        _walls(
            "111111111111",
            "100001000001",
            "101101010101",
            "100000010001",
            "101111011101",
            "100101000001",
            "110101010111",
            "100100010001",
            "111111111111",
        ),
        start=(1, 1),
        goal=(7, 10),
        max_steps=1000,
    ),
}


class MazeLayout:
    """Cell <-> world geometry, wall clearance and shortest cell paths for one wall map."""

    def __init__(self, walls: tuple[tuple[int, ...], ...], cell_size: float = CELL_SIZE) -> None:
        self.walls = np.array(walls, dtype=bool)
        self.cell_size = cell_size
        self.rows, self.cols = self.walls.shape
        # Walls with a one-cell wall border, so neighbourhood look-ups never index outside.
        self._padded_walls = np.pad(self.walls, 1, constant_values=True)

    def cell_to_xy(self, cell: Cell) -> np.ndarray:
        """World (x, y) of a cell's centre."""
        row, col = cell
        return np.array(
            [(col + 0.5 - self.cols / 2) * self.cell_size, (self.rows / 2 - row - 0.5) * self.cell_size]
        )

    def xy_to_cell(self, xy: np.ndarray) -> Cell:
        """The cell containing world point ``xy`` (clamped to the map)."""
        col = int(np.floor(xy[0] / self.cell_size + self.cols / 2))
        row = int(np.floor(self.rows / 2 - xy[1] / self.cell_size))
        return min(max(row, 0), self.rows - 1), min(max(col, 0), self.cols - 1)

    def is_free(self, cell: Cell) -> bool:
        row, col = cell
        return 0 <= row < self.rows and 0 <= col < self.cols and not self.walls[row, col]

    def clearance(self, points: np.ndarray) -> np.ndarray:
        """Distance (m) from each of ``points`` (N, 2) to the nearest wall block, exact up to ``cell_size``.

        Only the 3 x 3 cells around each point are checked: any other wall is at least one whole
        cell away, so this is cheap enough to run on every step (beyond the map counts as wall).
        """
        cols = np.floor(points[:, 0] / self.cell_size + self.cols / 2).astype(int)
        rows = np.floor(self.rows / 2 - points[:, 1] / self.cell_size).astype(int)
        offsets = np.array([-1, 0, 1])
        near_rows = np.clip(rows[:, None, None] + offsets[None, :, None], -1, self.rows)
        near_cols = np.clip(cols[:, None, None] + offsets[None, None, :], -1, self.cols)
        is_wall = self._padded_walls[near_rows + 1, near_cols + 1]
        centre_x = (near_cols + 0.5 - self.cols / 2) * self.cell_size
        centre_y = (self.rows / 2 - near_rows - 0.5) * self.cell_size
        gap_x = np.maximum(np.abs(points[:, 0, None, None] - centre_x) - self.cell_size / 2, 0.0)
        gap_y = np.maximum(np.abs(points[:, 1, None, None] - centre_y) - self.cell_size / 2, 0.0)
        distance = np.where(is_wall, np.hypot(gap_x, gap_y), self.cell_size)
        return distance.reshape(len(points), 9).min(axis=1)

    def distances_to(self, goal: Cell) -> np.ndarray:
        """BFS steps from every free cell to ``goal`` (4-connected); -1 where unreachable or wall."""
        dist = np.full(self.walls.shape, -1, dtype=int)
        dist[goal] = 0
        queue = deque([goal])
        while queue:
            row, col = queue.popleft()
            for nxt in ((row + 1, col), (row - 1, col), (row, col + 1), (row, col - 1)):
                if self.is_free(nxt) and dist[nxt] < 0:
                    dist[nxt] = dist[row, col] + 1
                    queue.append(nxt)
        return dist

    def path(self, start: Cell, distances: np.ndarray) -> list[Cell]:
        """Shortest cell path from ``start`` to the goal of ``distances`` (both ends included)."""
        if distances[start] < 0:
            raise ValueError(f"cell {start} cannot reach the goal in this maze")
        cells = [start]
        while distances[cells[-1]] > 0:
            row, col = cells[-1]
            neighbours = ((row + 1, col), (row - 1, col), (row, col + 1), (row, col - 1))
            cells.append(next(n for n in neighbours if self.is_free(n) and distances[n] == distances[row, col] - 1))
        return cells

    def nearest_reachable(self, xy: np.ndarray, distances: np.ndarray) -> Cell:
        """The cell under ``xy``, or if that is a wall/unreachable, the closest cell that reaches the goal."""
        cell = self.xy_to_cell(xy)
        if distances[cell] >= 0:
            return cell
        candidates = np.argwhere(distances >= 0)
        centres = np.stack([self.cell_to_xy(tuple(c)) for c in candidates])
        return tuple(int(v) for v in candidates[np.argmin(np.linalg.norm(centres - xy, axis=1))])
