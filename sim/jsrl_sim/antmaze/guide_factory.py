"""The AntMaze guide as config files and the learning core name it: ``jsrl_sim.antmaze.guide_factory:make_antmaze_guide``.

The core never imports ``jsrl_sim``; it builds guides from a ``"module:factory"`` string,
calling ``factory(env, **kwargs)``. This factory reads the maze from the env, so a config
never repeats it, and optionally adds seeded Gaussian noise to the torques: the noisy guide
is the behaviour policy of the locally generated offline datasets (D4RL's AntMaze data
were also a goal-reaching controller with noise, not an optimal policy).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from jsrl_sim.antmaze.env import AntMazeEnv
from jsrl_sim.antmaze.guide import AntMazeGuide


class NoisyAntMazeGuide:
    """``AntMazeGuide`` whose torques get ``N(0, noise^2)`` per joint, clipped to [-1, 1]; seeded."""

    def __init__(self, maze: str, noise: float = 0.0, seed: int | None = None) -> None:
        if not noise >= 0.0:
            raise ValueError(f"NoisyAntMazeGuide: noise must be >= 0, got {noise!r}")
        self.guide = AntMazeGuide(maze)
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        self.guide.reset()

    def act(self, obs: np.ndarray) -> np.ndarray:
        action = self.guide.act(obs)
        if self.noise > 0.0:
            action = action + self.rng.normal(0.0, self.noise, size=action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """The noise stream, so a resumed run continues it (the trainer checkpoints guides that have one)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def make_antmaze_guide(env: gym.Env, noise: float = 0.0, seed: int | None = None) -> NoisyAntMazeGuide:
    """Guide factory for config files; the maze comes from ``env`` (a ``jsrl/AntMaze-v0``)."""
    antmaze = env.unwrapped
    if not isinstance(antmaze, AntMazeEnv):
        raise TypeError(f"make_antmaze_guide: needs a jsrl/AntMaze-v0 env, got {type(antmaze).__name__}")
    return NoisyAntMazeGuide(antmaze.config.maze, noise=noise, seed=seed)
