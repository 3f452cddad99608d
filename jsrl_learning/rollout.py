"""Guide-then-explorer episodes, H1 estimation and evaluation on a gymnasium env.

Success of an episode: ``info["success"]`` or ``info["is_success"]`` if the env reports
either (true at any step counts: the goal was reached), otherwise a total reward > 0
(sparse-reward tasks such as grasping and the combination lock).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np

from jsrl_learning.buffers import Obs
from jsrl_learning.config import ConfigError
from jsrl_learning.episode import EXPLORER, GUIDE, Episode
from jsrl_learning.guides.base import Guide

SUCCESS_KEYS = ("success", "is_success")


def run_episode(
    env: gym.Env,
    guide: Guide,
    explorer_act: Callable[[Any], Any],
    guide_steps: int,
    max_steps: int | None = None,
    seed: int | None = None,
) -> Episode:
    """Roll out the guide for steps ``t < guide_steps``, the explorer after.

    Stops at termination, truncation or ``max_steps`` (then marked truncated, not
    terminated: a time limit is no true end).
    """
    if guide_steps < 0:
        raise ValueError(f"run_episode: guide_steps must be >= 0, got {guide_steps}")
    if max_steps is not None and max_steps <= 0:
        raise ValueError(f"run_episode: max_steps must be > 0 or None, got {max_steps}")
    guide.reset()
    obs, info = env.reset(seed=seed)
    success_seen = _success_flag(info)
    steps: dict[str, list[Any]] = {k: [] for k in
                                   ("obs", "actions", "rewards", "next_obs", "terminated", "truncated")}
    controller: list[str] = []
    t = 0
    while True:
        by_guide = t < guide_steps
        action = guide.act(obs) if by_guide else explorer_act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        t += 1
        truncated = bool(truncated) or (max_steps is not None and t >= max_steps and not terminated)
        for key, value in zip(steps, (obs, action, reward, next_obs, terminated, truncated)):
            steps[key].append(value)
        controller.append(GUIDE if by_guide else EXPLORER)
        flag = _success_flag(info)
        if flag is not None:
            success_seen = bool(success_seen) or flag
        obs = next_obs
        if terminated or truncated:
            break
    rewards = np.asarray(steps["rewards"], dtype=np.float64)
    success = success_seen if success_seen is not None else bool(rewards.sum() > 0)
    return Episode(
        obs=_stack(steps["obs"]), actions=np.asarray(steps["actions"]), rewards=rewards,
        next_obs=_stack(steps["next_obs"]),
        terminated=np.asarray(steps["terminated"], dtype=bool),
        truncated=np.asarray(steps["truncated"], dtype=bool),
        controller=controller, success=bool(success), guide_steps=int(guide_steps),
    )


def _stack(observations: list[Any]) -> Obs:
    """Per-step observations as one batch: an array, or one array per key for Dict observations."""
    if isinstance(observations[0], Mapping):
        return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return np.asarray(observations)


def _success_flag(info: dict[str, Any]) -> bool | None:
    """The env's own success report, or None if it reports none."""
    for key in SUCCESS_KEYS:
        if key in info:
            return bool(info[key])
    return None


@dataclass
class H1Estimate:
    """``mean_steps_to_success`` is H1: averaged over the successful rollouts only."""

    mean_steps_to_success: float
    success_rate: float
    n: int


def estimate_h1(env: gym.Env, guide: Guide, n_rollouts: int, max_steps: int | None = None,
                seed: int | None = None) -> H1Estimate:
    """Roll out the guide alone ``n_rollouts`` times (episode ``i`` reset with ``seed + i``)."""
    if n_rollouts <= 0:
        raise ValueError(f"estimate_h1: n_rollouts must be > 0, got {n_rollouts}")
    lengths = []
    for i in range(n_rollouts):
        episode = run_episode(env, guide, guide.act, max_steps or sys.maxsize, max_steps,
                              seed=None if seed is None else seed + i)
        if episode.success:
            lengths.append(episode.length)
    if not lengths:
        raise ConfigError(
            f"estimate_h1: the guide succeeded in none of {n_rollouts} rollouts, so H1 (its mean "
            f"steps to success) is undefined; check the guide, or set curriculum.h1 explicitly"
        )
    return H1Estimate(float(np.mean(lengths)), len(lengths) / n_rollouts, n_rollouts)


@dataclass
class EvalResult:
    success_rate: float
    mean_return: float
    mean_length: float


def evaluate(env: gym.Env, guide: Guide, explorer_act: Callable[[Any], Any], guide_steps: int,
             n_episodes: int, seed: int | None = None, max_steps: int | None = None) -> EvalResult:
    """Score the combined policy (guide for ``guide_steps``, then explorer); h=0 is the explorer alone."""
    if n_episodes <= 0:
        raise ValueError(f"evaluate: n_episodes must be > 0, got {n_episodes}")
    episodes = [run_episode(env, guide, explorer_act, guide_steps, max_steps,
                            seed=None if seed is None else seed + i) for i in range(n_episodes)]
    return EvalResult(
        success_rate=float(np.mean([e.success for e in episodes])),
        mean_return=float(np.mean([e.total_return for e in episodes])),
        mean_length=float(np.mean([e.length for e in episodes])),
    )
