"""The scripted AntMaze guide: BFS waypoints, wall-clear aiming, and it reaches goals a random policy does not."""
import json

import numpy as np
import pytest

from jsrl_learning.guides.base import Guide
from jsrl_sim.antmaze import MAZES
from jsrl_sim.antmaze.env import AntMazeEnv
from jsrl_sim.antmaze.guide import AntMazeGuide
from jsrl_sim.antmaze.maze import MazeLayout
from jsrl_sim.antmaze.measure_guide import RandomTorques
from jsrl_sim.antmaze.measure_guide import main as measure_main


def test_bfs_path_follows_the_u():
    layout = MazeLayout(MAZES["umaze"].walls)
    distances = layout.distances_to(MAZES["umaze"].goal)
    assert layout.path(MAZES["umaze"].start, distances) == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]
    assert distances[2, 2] == -1  # a wall
    with pytest.raises(ValueError, match="cannot reach"):
        layout.path((2, 2), distances)


def test_wall_clearance():
    layout = MazeLayout(MAZES["umaze"].walls)
    points = np.array([[0.0, 4.0], [0.0, 2.5], [3.0, 3.0], [-4.0, 0.0], [-9.0, -9.0]])
    # corridor centre: 2 m to both walls; 0.5 m above the inner wall; 1.41 m from its corner; inside walls: 0
    np.testing.assert_allclose(layout.clearance(points), [2.0, 0.5, np.sqrt(2.0), 0.0, 0.0])


def test_cell_geometry_matches_gymnasium_robotics():
    env = AntMazeEnv(maze="large")
    layout, maze = env.layout, env._env.maze
    for cell in [(1, 1), (7, 10), (3, 5), (5, 2)]:
        np.testing.assert_allclose(layout.cell_to_xy(cell), maze.cell_rowcol_to_xy(np.array(cell)))
        corner = layout.cell_to_xy(cell) + 1.9
        assert layout.xy_to_cell(corner) == tuple(maze.cell_xy_to_rowcol(corner))


def test_aims_at_the_furthest_waypoint_clear_of_walls():
    guide = AntMazeGuide("umaze")
    start, goal = guide.layout.cell_to_xy((1, 1)), guide.layout.cell_to_xy((3, 1))
    # From the start the corridor end (1, 3) is in clear sight; the U's bend (2, 3) would graze the inner wall.
    np.testing.assert_allclose(guide.aim_point(start, goal), guide.layout.cell_to_xy((1, 3)))
    # Hugging the inner wall, nothing beyond the next cell is clear: aim at the next cell's centre.
    near_wall = guide.layout.cell_to_xy((1, 2)) + np.array([0.0, -1.5])
    np.testing.assert_allclose(guide.aim_point(near_wall, goal), guide.layout.cell_to_xy((1, 3)))
    # In the goal's cell, aim at the goal point itself.
    np.testing.assert_allclose(guide.aim_point(goal + 0.5, goal), goal)


def test_is_a_guide_with_bounded_float32_actions():
    env, guide = AntMazeEnv(maze="umaze"), AntMazeGuide("umaze")
    assert isinstance(guide, Guide)
    obs, _ = env.reset(seed=0)
    action = guide.act(obs)
    assert action.shape == (8,) and action.dtype == np.float32
    assert env.action_space.contains(action)
    with pytest.raises(ValueError, match="unknown maze 'maze9'"):
        AntMazeGuide("maze9")


def _successes(policy, seeds) -> int:
    env = AntMazeEnv(maze="umaze")
    wins = 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        policy.reset()
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
        wins += int(info["success"])
    return wins


def test_guide_reaches_the_umaze_goal_and_random_does_not():
    seeds = [0, 1, 2]
    assert _successes(AntMazeGuide("umaze"), seeds) >= 2
    assert _successes(RandomTorques(0), seeds) == 0


def test_measure_command_writes_a_summary(tmp_path):
    out = tmp_path / "umaze.json"
    assert measure_main(["--maze", "umaze", "--episodes", "1", "--seed", "4", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["maze"] == "umaze" and summary["episodes"] == 1 and summary["max_steps"] == 700
    assert summary["successes"] == 1 and 0 < summary["mean_steps_to_success"] < 700
    assert summary["env_steps_per_s"] > 0
