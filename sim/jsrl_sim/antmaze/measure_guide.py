"""Measure the scripted AntMaze guide: success rate, steps to success, flips and speed.

    python -m jsrl_sim.antmaze.measure_guide --maze umaze --episodes 50 --out umaze.json

``--policy random`` measures uniform random torques instead, the baseline the guide must beat.
Episode i is reset with seed ``--seed + i``, so a run is reproducible. JSRL needs the
guide's mean episode length to success (the paper's H1) to set the first guide-step; it is
``mean_steps_to_success`` here. Env and guide times are measured separately, so
``env_steps_per_s`` is the simulator's own speed and ``policy_ms_per_act`` the guide's cost.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from jsrl_sim.antmaze.env import AntMazeEnv
from jsrl_sim.antmaze.guide import AntMazeGuide
from jsrl_sim.antmaze.maze import MAZES
from jsrl_sim.antmaze.observation import QUAT


class RandomTorques:
    """Uniform random actions, seeded: the baseline (it has the guide interface)."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, size=8).astype(np.float32)

    def reset(self) -> None:
        """Stateless apart from the random stream."""


def measure(maze: str, episodes: int, seed: int = 0, max_steps: int | None = None, policy: str = "guide") -> dict:
    """Run ``policy`` ("guide" or "random") for ``episodes`` seeded episodes and summarise them."""
    env = AntMazeEnv(maze=maze, max_steps=max_steps)
    actor = AntMazeGuide(maze) if policy == "guide" else RandomTorques(seed)
    steps_to_success, flipped = [], 0
    env_time = actor_time = 0.0
    total_steps = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        actor.reset()
        for step in range(1, env.max_steps + 1):
            t0 = time.perf_counter()
            action = actor.act(obs)
            t1 = time.perf_counter()
            obs, _, terminated, truncated, info = env.step(action)
            env_time += time.perf_counter() - t1
            actor_time += t1 - t0
            if terminated or truncated:
                break
        total_steps += step
        if info["success"]:
            steps_to_success.append(step)
        flipped += int(_upside_down(obs))
    env.close()
    return {
        "maze": maze,
        "policy": policy,
        "episodes": episodes,
        "seeds": [seed, seed + episodes - 1],
        "max_steps": env.max_steps,
        "successes": len(steps_to_success),
        "success_rate": len(steps_to_success) / episodes,
        "mean_steps_to_success": float(np.mean(steps_to_success)) if steps_to_success else None,
        "max_steps_to_success": int(max(steps_to_success)) if steps_to_success else None,
        "flipped_episodes": flipped,
        "env_steps": total_steps,
        "env_steps_per_s": total_steps / env_time,
        "policy_ms_per_act": 1e3 * actor_time / total_steps,
    }


def _upside_down(obs: np.ndarray) -> bool:
    """True when the torso's up axis points below the horizon (the ant cannot right itself)."""
    _, x, y, _ = obs[QUAT]
    return 1.0 - 2.0 * (x * x + y * y) < 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maze", choices=sorted(MAZES), default="umaze")
    parser.add_argument("--policy", choices=("guide", "random"), default="guide")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    parser.add_argument("--max-steps", type=int, default=None, help="episode length (default: D4RL's for the maze)")
    parser.add_argument("--out", type=Path, default=None, help="write the summary here as JSON")
    args = parser.parse_args(argv)
    if args.episodes <= 0:
        parser.error(f"--episodes must be positive, got {args.episodes}")
    result = measure(args.maze, args.episodes, args.seed, args.max_steps, args.policy)
    result["command"] = "python -m jsrl_sim.antmaze.measure_guide " + " ".join(sys.argv[1:] if argv is None else argv)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
