"""``jsrl/AntMaze-v0``: D4RL's AntMaze tasks on gymnasium-robotics' AntMaze v5, with the project's conventions.

What this wrapper fixes on top of gymnasium-robotics:
- the D4RL task per maze: start and goal cells fixed (see maze.py), both jittered by
  gymnasium-robotics' uniform +-1 m noise, drawn from the reset seed;
- a flat float32 observation (observation.py): D4RL's 29-dim qpos+qvel, then the goal;
- sparse reward 1.0 when the torso is within 0.45 m of the goal, ``info["success"]``, and the
  episode terminates there (gymnasium-robotics' ``continuing_task=False``);
- truncation after ``max_steps`` (D4RL: 700 umaze, 1000 medium/large) counted here, so no
  extra ``TimeLimit`` is registered;
- an optional top-down camera (``render_mode="rgb_array"``, ``image_size`` px).
- an optional window, MuJoCo's own passive viewer (``gui=True``, needs a display; window.py),
  synced after every reset and step so a person watches the ant as it learns.
``reset(options={"goal_cell": (r, c), "reset_cell": (r, c)})`` passes through to
gymnasium-robotics, for datasets that walk between other cells.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jsrl_sim.antmaze.camera import TopDownCamera  # first: sets the MUJOCO_GL default before mujoco loads

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium_robotics.envs.maze.ant_maze_v5 import AntMazeEnv as GymRoboticsAntMaze  # noqa: E402

from jsrl_sim.antmaze.config import AntMazeConfig, AntMazeConfigError, make_config  # noqa: E402
from jsrl_sim.antmaze.maze import MAZES, MazeLayout  # noqa: E402
from jsrl_sim.antmaze.observation import OBS_DIM, flatten  # noqa: E402
from jsrl_sim.display import require_display  # noqa: E402

if TYPE_CHECKING:
    from jsrl_sim.antmaze.window import MazeWindow

RENDER_MODES = ("rgb_array",)


class AntMazeEnv(gym.Env[np.ndarray, np.ndarray]):
    """One D4RL AntMaze task; keyword arguments are ``AntMazeConfig`` fields (maze, max_steps, image_size)."""

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 20}

    def __init__(self, render_mode: str | None = None, config: AntMazeConfig | None = None, gui: bool = False,
                 **overrides: Any) -> None:
        self.config = make_config(overrides, base=config)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise AntMazeConfigError(
                f"AntMazeEnv: render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}"
            )
        if gui:
            require_display("AntMazeEnv", AntMazeConfigError)
        self.render_mode = render_mode
        self.maze = MAZES[self.config.maze]
        self.layout = MazeLayout(self.maze.walls)
        self.max_steps = self.config.episode_steps
        self._env = GymRoboticsAntMaze(
            maze_map=self.maze.gym_map(),
            reward_type="sparse",
            continuing_task=False,
            include_cfrc_ext_in_observation=False,
        )
        self.action_space = self._env.action_space
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        extent = max(self.layout.rows, self.layout.cols) * self.layout.cell_size
        self._camera: TopDownCamera | None = None
        if render_mode == "rgb_array":
            self._camera = TopDownCamera(self._env.model, self.config.image_size, extent)
        self.window: MazeWindow | None = None
        if gui:
            from jsrl_sim.antmaze.window import MazeWindow  # only here: it loads GLFW, which headless runs never need

            self.window = MazeWindow(self._env.model, self._env.data, extent)
        self._steps = 0

    @property
    def goal(self) -> np.ndarray:
        """This episode's goal point (x, y) in metres."""
        return self._env.goal.copy()

    @property
    def model(self):
        """The MuJoCo model (for tests and tools that place the ant)."""
        return self._env.model

    @property
    def data(self):
        """The MuJoCo data (for tests and tools that place the ant)."""
        return self._env.data

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, info = self._env.reset(seed=seed, options=options)
        self._steps = 0
        self._sync_window()
        return flatten(obs), {"success": bool(info["success"])}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, _, info = self._env.step(action)
        self._steps += 1
        truncated = not terminated and self._steps >= self.max_steps
        self._sync_window()
        return flatten(obs), float(reward), bool(terminated), truncated, {"success": bool(info["success"])}

    def render(self) -> np.ndarray:
        """The top-down (S, S, 3) uint8 frame; needs ``render_mode="rgb_array"``."""
        if self._camera is None:
            raise RuntimeError("AntMazeEnv.render() needs the env created with render_mode='rgb_array'")
        return self._camera.render(self._env.data)

    def _sync_window(self) -> None:
        if self.window is not None:
            self.window.sync()

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
        if self._camera is not None:
            self._camera.close()
            self._camera = None
        self._env.close()
