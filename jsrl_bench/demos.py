"""Demonstrations: guide rollouts written as a Minari dataset that opens with no network.

The paper's offline data for grasping are *successful* demonstrations, so by default only
successful episodes are kept: collection goes on until ``n_episodes`` successes (or gives up
after ``max_attempts`` rollouts). Failed attempts would teach behaviour cloning to fail; the
learners meet failures online anyway. ``successful_only=False`` keeps every rollout.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym

from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import save_minari
from jsrl_learning.episode import Episode
from jsrl_learning.guides import Guide, GuideSpec, make_guide
from jsrl_learning.rollout import run_episode

MINARI_ROOT_VARIABLE = "MINARI_DATASETS_PATH"


@dataclass
class DemoSet:
    """The kept episodes, and how many rollouts it took to get them."""

    episodes: list[Episode]
    attempts: int

    @property
    def guide_success_rate(self) -> float:
        return sum(e.success for e in self.episodes) / self.attempts if self.attempts else 0.0

    @property
    def transitions(self) -> int:
        return sum(e.length for e in self.episodes)


def collect_demos(env: gym.Env, guide: Guide, n_episodes: int, seed: int, successful_only: bool = True,
                  max_attempts: int | None = None) -> DemoSet:
    """Roll out ``guide`` alone; attempt ``i`` resets the env with ``seed + i``.

    ``max_attempts`` defaults to ``10 * n_episodes``; running out of attempts before
    ``n_episodes`` are kept is an error (a guide that rarely succeeds is no demonstrator).
    """
    if n_episodes <= 0:
        raise ValueError(f"collect_demos: n_episodes must be > 0, got {n_episodes}")
    limit = 10 * n_episodes if max_attempts is None else max_attempts
    kept: list[Episode] = []
    attempts = 0
    while len(kept) < n_episodes:
        if attempts >= limit:
            raise RuntimeError(f"collect_demos: only {len(kept)} successful episodes in {attempts} attempts "
                               f"(wanted {n_episodes}); the guide succeeds too rarely")
        episode = run_episode(env, guide, guide.act, guide_steps=sys.maxsize, seed=seed + attempts)
        attempts += 1
        if episode.success or not successful_only:
            kept.append(episode)
    return DemoSet(kept, attempts)


@contextmanager
def minari_root(path: str | Path | None) -> Iterator[None]:
    """Point Minari at ``path`` (``MINARI_DATASETS_PATH``) inside the block; None leaves it alone."""
    if path is None:
        yield
        return
    before = os.environ.get(MINARI_ROOT_VARIABLE)
    os.environ[MINARI_ROOT_VARIABLE] = str(Path(path).expanduser().resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ[MINARI_ROOT_VARIABLE]
        else:
            os.environ[MINARI_ROOT_VARIABLE] = before


@dataclass
class DemoRecord:
    """Where a recorded dataset lives and what went into it."""

    dataset_id: str
    path: Path
    episodes: int
    attempts: int
    transitions: int
    guide_success_rate: float


def record_demos(env_id: str, env_kwargs: dict[str, Any], guide: GuideSpec, n_episodes: int, dataset_id: str,
                 seed: int = 0, successful_only: bool = True, root: str | Path | None = None) -> DemoRecord:
    """Collect demonstrations with the guide ``guide`` describes and save them as Minari ``dataset_id``.

    ``root`` overrides ``MINARI_DATASETS_PATH`` for this call. Images are stored losslessly
    (Minari would JPEG-encode them by default), so a replayed demo is exactly what the
    guide saw.
    """
    try:
        env = gym.make(env_id, **env_kwargs)
    except ValueError as exc:  # gymnasium envs reject bad settings with ValueError subclasses
        raise ConfigError(f"demos env {env_id} {env_kwargs}: {exc}") from exc
    demos = collect_demos(env, make_guide(guide, env, "demos guide"), n_episodes, seed, successful_only)
    kept = "successful " if successful_only else ""
    description = (f"{len(demos.episodes)} {kept}episodes of {env_id} {env_kwargs} by guide {guide.kind} "
                   f"{guide.target or guide.path or ''} {guide.kwargs or ''} ({demos.attempts} attempts, "
                   f"reset seeds {seed}..{seed + demos.attempts - 1})")
    with minari_root(root):
        path = save_minari(demos.episodes, dataset_id, env=env, algorithm_name=f"{guide.kind} guide",
                           author="jsrl_ros", author_email="jsrl-ros@example.org", code_permalink="jsrl_bench/demos.py",
                           description=description, jpeg_encoding=False)
    env.close()
    return DemoRecord(dataset_id, path, len(demos.episodes), demos.attempts, demos.transitions,
                      demos.guide_success_rate)

