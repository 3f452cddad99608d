"""JSRL on one env that never stops: evaluation episodes interleaved with training episodes.

The in-process trainer evaluates on a second env between episodes; a robot (or a sim
behind ROS) has one env, so the node graph runs evaluations as ordinary episodes flagged
as such. Two pieces, both ROS-free:

* :class:`EpisodePlanner` (the policy arbiter): per episode, whether it is an evaluation
  and its guide-step h — training episodes draw h uniformly from the current choices (one
  element in curriculum mode, {H_1..H_n, 0} for JSRL-Random), evaluations use the largest
  choice, which is the curriculum's current guide-step in both modes (as in the trainer).
* :class:`EvaluationAverager` (the curriculum manager): the mean over ``episodes``
  evaluation episodes run at the current guide-step is one evaluation for the advance rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jsrl_learning.curriculum import METRICS
from jsrl_learning.episode import EXPLORER, GUIDE


@dataclass(frozen=True)
class EpisodePlan:
    guide_step: int
    evaluation: bool

    def controller(self, t: int) -> str:
        """Algorithm 1's switch: the guide acts for steps t < h, the explorer after."""
        return GUIDE if t < self.guide_step else EXPLORER


class EpisodePlanner:
    """After every ``eval_every_episodes`` training episodes come ``eval_episodes`` evaluation episodes
    (``eval_every_episodes`` = 0: never evaluate). ``seed`` seeds the draws of h."""

    def __init__(self, eval_every_episodes: int, eval_episodes: int, seed: int) -> None:
        if eval_every_episodes < 0 or eval_episodes < 1:
            raise ValueError(f"EpisodePlanner: need eval_every_episodes >= 0 and eval_episodes >= 1, "
                             f"got {eval_every_episodes}, {eval_episodes}")
        self.eval_every_episodes, self.eval_episodes = eval_every_episodes, eval_episodes
        self.rng = np.random.default_rng(seed)
        self.planned = 0

    def plan(self, choices: Sequence[int]) -> EpisodePlan:
        if not choices or min(choices) < 0:
            raise ValueError(f"EpisodePlanner: guide-step choices must be a non-empty list of ints >= 0, got {choices}")
        position = self.planned % (self.eval_every_episodes + self.eval_episodes)
        evaluation = self.eval_every_episodes > 0 and position >= self.eval_every_episodes
        self.planned += 1
        if evaluation:
            return EpisodePlan(int(max(choices)), True)
        return EpisodePlan(int(choices[int(self.rng.integers(len(choices)))]), False)


class EvaluationAverager:
    """Collects evaluation episodes of the current guide-step; every ``episodes`` of them make
    one evaluation (their mean ``return`` or ``success_rate``). Episodes run at another h (an
    older stage, still in flight when the curriculum advanced) never count."""

    def __init__(self, episodes: int, metric: str) -> None:
        if episodes < 1 or metric not in METRICS:
            raise ValueError(f"EvaluationAverager: need episodes >= 1 and metric in {METRICS}, "
                             f"got {episodes}, {metric!r}")
        self.episodes, self.metric = episodes, metric
        self.guide_step: int | None = None
        self.values: list[float] = []

    def add(self, guide_step: int, current_guide_step: int, total_return: float, success: bool) -> float | None:
        """Feed one evaluation episode; returns an evaluation once ``episodes`` have been collected."""
        if self.guide_step != current_guide_step:
            self.guide_step, self.values = current_guide_step, []
        if guide_step != current_guide_step:
            return None
        self.values.append(float(total_return) if self.metric == "return" else float(success))
        if len(self.values) < self.episodes:
            return None
        value, self.values = float(np.mean(self.values)), []
        return value
