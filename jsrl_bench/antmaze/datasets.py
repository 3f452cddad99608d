"""AntMaze offline datasets, generated here: the scripted guide with action noise, saved as Minari.

D4RL's AntMaze data cannot be downloaded on these machines, so the JSRL paper's small-data
regime (1k / 10k / 100k / 1M transitions) is rebuilt from the project's own guide: the
scripted walker (BFS waypoints + trot, docs/antmaze.md) plus Gaussian torque noise, walking
from the task's start cell to its goal cell, like ``antmaze-umaze-v2``. Episodes end at the
goal (termination) or at the env's time limit; the last episode is cut so the dataset holds
exactly the asked number of transitions (its cut end is marked truncated, not terminated).

Rewards are stored raw (1 at the goal, else 0); IQL's D4RL shift of -1 is the learner's
``reward_shift``, applied to sampled batches.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import jsrl_sim
from jsrl_sim.antmaze.guide_factory import make_antmaze_guide
from jsrl_sim.antmaze.maze import MAZES
from minari.dataset.minari_dataset import parse_dataset_id
from minari.storage import get_dataset_path

from jsrl_bench.demos import minari_root
from jsrl_bench.sim_names import factory_target, qualified_env_id
from jsrl_learning.buffers import take_obs
from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import save_minari
from jsrl_learning.episode import Episode
from jsrl_learning.guides import Guide, GuideSpec, make_guide
from jsrl_learning.rollout import run_episode

ANTMAZE_ENV_ID = qualified_env_id(jsrl_sim.ANTMAZE_ENV_ID)
ANTMAZE_MAZES = tuple(MAZES)


def antmaze_guide(noise: float = 0.0, seed: int | None = None) -> GuideSpec:
    """The scripted AntMaze guide; ``seed`` seeds the torque noise."""
    return GuideSpec(kind="scripted", target=factory_target(make_antmaze_guide),
                     kwargs={"noise": noise, "seed": seed})


def default_dataset_id(maze: str, transitions: int, noise: float, seed: int = 0) -> str:
    """``jsrl/antmaze/<maze>-<transitions>-noise<noise>-seed<seed>-v0``, every setting in the name
    (Minari ids allow no dots: noise 0.2 is written ``0p2``)."""
    return f"jsrl/antmaze/{maze}-{transitions}-noise{noise:g}-seed{seed}-v0".replace(".", "p")


def collect_transitions(env: gym.Env, guide: Guide, n_transitions: int, seed: int) -> list[Episode]:
    """Guide-only episodes (episode ``i`` reset with ``seed + i``) until exactly ``n_transitions``."""
    if n_transitions <= 0:
        raise ValueError(f"collect_transitions: n_transitions must be > 0, got {n_transitions}")
    episodes: list[Episode] = []
    remaining = n_transitions
    while remaining > 0:
        episode = run_episode(env, guide, guide.act, guide_steps=sys.maxsize, seed=seed + len(episodes))
        if episode.length > remaining:
            episode = _head(episode, remaining)
        episodes.append(episode)
        remaining -= episode.length
    return episodes


def _head(episode: Episode, n: int) -> Episode:
    """The first ``n`` steps; the cut is a truncation (the episode did not end there)."""
    cut = slice(0, n)
    truncated = episode.truncated[cut].copy()
    truncated[-1] = True
    terminated = episode.terminated[cut]
    return Episode(obs=take_obs(episode.obs, cut), actions=episode.actions[cut], rewards=episode.rewards[cut],
                   next_obs=take_obs(episode.next_obs, cut), terminated=terminated, truncated=truncated,
                   controller=episode.controller[:n], success=bool(terminated.any()), guide_steps=episode.guide_steps)


def _check_new_id(dataset_id: str) -> None:
    """Fail before the rollouts, not after: a malformed id, or one that exists (Minari never overwrites)."""
    try:
        parse_dataset_id(dataset_id)
    except ValueError as exc:
        raise ConfigError(f"antmaze dataset: dataset id {dataset_id!r}: {exc}") from exc
    if get_dataset_path(dataset_id).exists():
        raise ConfigError(f"antmaze dataset: {dataset_id!r} already exists at {get_dataset_path(dataset_id)}; "
                          f"pick another id or delete it")


@dataclass
class AntMazeDataset:
    """What a generated dataset holds and how long it took."""

    dataset_id: str
    path: Path
    maze: str
    transitions: int
    episodes: int
    successes: int
    noise: float
    seed: int
    wall_s: float

    @property
    def success_rate(self) -> float:
        """Successful episodes over all episodes (the cut last one included)."""
        return self.successes / self.episodes

    def to_json(self) -> dict[str, object]:
        """A JSON-ready record (path as a string, the success rate and mean episode length added)."""
        return {**asdict(self), "path": str(self.path), "success_rate": self.success_rate,
                "mean_episode_length": self.transitions / self.episodes}


def generate_antmaze_dataset(maze: str, transitions: int, noise: float, dataset_id: str, seed: int = 0,
                             root: str | Path | None = None,
                             env_kwargs: Mapping[str, Any] | None = None) -> AntMazeDataset:
    """Roll out the noisy guide in ``maze`` for ``transitions`` steps and save Minari ``dataset_id``.

    ``root`` overrides ``MINARI_DATASETS_PATH`` for this call; Minari refuses to overwrite an
    existing id. ``env_kwargs`` are further ``jsrl/AntMaze-v0`` settings (e.g. ``max_steps``).
    Episode ``i`` resets with ``seed + i``; the noise stream is seeded with ``seed``.
    """
    if maze not in ANTMAZE_MAZES:
        raise ConfigError(f"antmaze dataset: maze must be one of {ANTMAZE_MAZES}, got {maze!r}")
    if not noise >= 0:
        raise ConfigError(f"antmaze dataset: noise must be >= 0, got {noise!r}")
    with minari_root(root):
        _check_new_id(dataset_id)
    start = time.perf_counter()
    settings = {**(env_kwargs or {}), "maze": maze}
    try:
        env = gym.make(ANTMAZE_ENV_ID, **settings)
    except ValueError as exc:  # the env names the bad setting
        raise ConfigError(f"antmaze dataset: env {settings}: {exc}") from exc
    spec = antmaze_guide(noise, seed)
    episodes = collect_transitions(env, make_guide(spec, env, "antmaze dataset guide"), transitions, seed)
    successes = sum(e.success for e in episodes)
    description = (f"{transitions} transitions ({len(episodes)} episodes, {successes} reach the goal) of "
                   f"{ANTMAZE_ENV_ID} {settings} by the scripted guide with N(0, {noise:g}^2) torque noise; "
                   f"reset seeds {seed}..{seed + len(episodes) - 1}; rewards raw (1 at the goal)")
    with minari_root(root):
        path = save_minari(episodes, dataset_id, env=env, eval_env=env,
                           algorithm_name="scripted AntMaze guide + Gaussian noise", author="jsrl_ros", author_email="jsrl-ros@example.org",
                           code_permalink="jsrl_bench/antmaze/datasets.py", description=description)
    env.close()
    return AntMazeDataset(dataset_id, Path(path), maze, transitions, len(episodes), successes, float(noise), seed,
                          time.perf_counter() - start)
