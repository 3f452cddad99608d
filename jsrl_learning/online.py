"""The learning half of Algorithm 1: replay fed with whole episodes, and a budget of updates.

Shared by :class:`jsrl_learning.trainer.JSRLTrainer` (episodes from ``run_episode`` in one
process) and the ROS learner node (episodes from rosbag files, updates in a background
thread), so the two train the same way: the whole trajectory (guide part too) goes into a
FIFO online replay, optionally sampled together with an offline buffer (IQL fine-tuning's
25/75 mix), and every collected env step earns ``updates_per_step`` gradient updates.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from jsrl_learning.buffers import Batch, MixedReplay, ReplayBuffer, concat_obs, take_obs
from jsrl_learning.learners.base import Learner


class OnlineLearning:
    """A learner, its online (and optional offline) replay and its update budget.

    ``rng`` draws the replay samples; the trainer passes its run generator so that a resumed
    run continues the exact same sample stream.
    """

    def __init__(self, learner: Learner, observation_space: gym.Space, action_space: gym.Space, *,
                 capacity: int, batch_size: int, updates_per_step: float, rng: np.random.Generator,
                 offline: Batch | None = None, online_fraction: float = 0.75) -> None:
        if batch_size <= 0 or capacity <= 0 or updates_per_step < 0:
            raise ValueError(f"OnlineLearning: need capacity > 0, batch_size > 0, updates_per_step >= 0; got "
                             f"{capacity}, {batch_size}, {updates_per_step}")
        self.learner, self.batch_size, self.updates_per_step, self.rng = learner, batch_size, updates_per_step, rng
        self.online = ReplayBuffer.for_spaces(capacity, observation_space, action_space)
        self.offline: ReplayBuffer | None = None
        if offline is not None:
            self.offline = ReplayBuffer.for_spaces(len(offline), observation_space, action_space)
            self.offline.add_batch(offline)
        self.replay: ReplayBuffer | MixedReplay = (
            self.online if self.offline is None else MixedReplay(self.offline, self.online, online_fraction))
        self.updates = 0
        self.credit = 0.0  # earned but not yet spent updates (fractions carry over)
        self.shown_observations = False  # the learner has seen the replay before its first update

    @property
    def ready(self) -> bool:
        """The replay holds at least one batch."""
        return len(self.replay) >= self.batch_size

    def add(self, batch: Batch) -> None:
        """Append an episode's transitions; each one earns ``updates_per_step`` updates."""
        self.online.add_batch(batch)
        self.credit += len(batch) * self.updates_per_step

    def update(self, max_updates: int | None = None) -> dict[str, float]:
        """Spend the earned updates (at most ``max_updates``); their mean metrics as ``train/<name>``.

        Updates earned while the replay holds less than a batch are dropped, not hoarded.
        """
        n = int(self.credit) if max_updates is None else min(int(self.credit), max_updates)
        self.credit -= n
        if not self.ready:
            return {}
        metrics = [self.train_step() for _ in range(n)]
        return {f"train/{k}": float(np.mean([m[k] for m in metrics])) for k in (metrics[0] if metrics else {})}

    def train_step(self) -> dict[str, float]:
        """One update on a sampled batch, outside the budget (a learner that trains as fast as it can)."""
        self._fit_observations()
        metrics = self.learner.update(self.replay.sample(self.batch_size, self.rng))
        self.updates += 1
        return metrics

    def offline_step(self) -> dict[str, float]:
        """One pre-training update on the offline buffer alone (not counted in ``updates``)."""
        if self.offline is None:
            raise ValueError("OnlineLearning: offline pre-training needs an offline dataset")
        self._fit_observations()
        return self.learner.update(self.offline.sample(self.batch_size, self.rng))

    def _fit_observations(self) -> None:
        """Show the learner every observation in replay before its first update (it fits once)."""
        if not self.shown_observations:
            self.shown_observations = True
            if type(self.learner).fit_observations is Learner.fit_observations:
                return  # nothing to fit: do not copy the replay
            buffers = [b for b in (self.offline, self.online) if b is not None and len(b)]
            self.learner.fit_observations(concat_obs([take_obs(b.obs, slice(0, len(b))) for b in buffers]),
                                          self.rng)
