"""JSRL's guide-step schedule: Algorithm 1's curriculum and the JSRL-Random baseline.

Pure Python with JSON-serialisable state, so the same object runs inside the trainer,
inside a ROS curriculum node, and survives a restart mid-curriculum.

Advance rule (the paper's β): keep the last ``window`` evaluations of the current stage;
once the window is full, its mean is the stage's moving average. ``best`` is the highest
moving average seen in any stage. The curriculum advances when the moving average comes
within ``tolerance * |best|`` of ``best`` (``|best|`` so that negative returns, e.g.
AntMaze's shifted rewards, work). ``best`` is never lowered, also not on an advance, and
the window restarts empty at every new stage.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from jsrl_learning.config import ConfigError, require

MODES = ("curriculum", "random")
METRICS = ("return", "success_rate")


def guide_steps(h1: float, n: int) -> list[int]:
    """Stages ``h_k = round(H1 - k * H1 / n)`` for ``k = 0..n``: from H1 down to 0.

    When H1 < n, rounding produces repeats; they are merged so every stage moves ``h``
    (a repeated stage would only re-test the same switch point). The result is strictly
    decreasing and always ends with 0 (the explorer alone).
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ConfigError(f"guide_steps: n (number of stages) must be a positive int, got {n!r}")
    if not math.isfinite(h1) or h1 < 0:
        raise ConfigError(f"guide_steps: H1 must be a finite number >= 0, got {h1!r}")
    stages: list[int] = []
    for k in range(n + 1):
        h = round(h1 - k * h1 / n)
        if not stages or h < stages[-1]:
            stages.append(h)
    return stages


@dataclass
class CurriculumConfig:
    """How guide-steps are chosen and when the curriculum advances.

    ``h1``: the guide's mean steps to success; None estimates it from ``h1_rollouts``
    guide rollouts before training. ``metric``: which evaluation result feeds the
    advance rule.
    """

    mode: str = "curriculum"
    n_stages: int = 10
    window: int = 5
    tolerance: float = 0.05
    metric: str = "return"
    h1: float | None = None
    h1_rollouts: int = 100

    def validate(self, where: str) -> None:
        require(self.mode in MODES, where, f"mode must be one of {MODES}, got {self.mode!r}")
        require(isinstance(self.n_stages, int) and self.n_stages > 0, where,
                f"n_stages must be a positive int, got {self.n_stages!r}")
        require(isinstance(self.window, int) and self.window > 0, where,
                f"window must be a positive int, got {self.window!r}")
        require(self.tolerance >= 0, where, f"tolerance must be >= 0, got {self.tolerance!r}")
        require(self.metric in METRICS, where, f"metric must be one of {METRICS}, got {self.metric!r}")
        require(self.h1 is None or (math.isfinite(self.h1) and self.h1 >= 0), where,
                f"h1 must be a number >= 0 or null (estimate it), got {self.h1!r}")
        require(isinstance(self.h1_rollouts, int) and self.h1_rollouts > 0, where,
                f"h1_rollouts must be a positive int, got {self.h1_rollouts!r}")


class Curriculum:
    """The current guide-step and the advance rule over a fixed list of stages."""

    def __init__(self, config: CurriculumConfig, stages: list[int]) -> None:
        config.validate("curriculum")
        if not stages or any(not isinstance(h, int) or h < 0 for h in stages) \
                or any(a <= b for a, b in zip(stages, stages[1:])):
            raise ConfigError(f"curriculum: stages must be strictly decreasing ints >= 0, got {stages!r}")
        self.config = config
        self.stages = list(stages)
        self.stage = 0
        self.best: float | None = None
        self.window: deque[float] = deque(maxlen=config.window)
        self.last_average: float | None = None  # the average the last evaluation was judged by (for logs)

    @classmethod
    def from_h1(cls, config: CurriculumConfig, h1: float) -> "Curriculum":
        return cls(config, guide_steps(h1, config.n_stages))

    @property
    def guide_step(self) -> int:
        """The current stage's h (in random mode: stage 0, i.e. H1)."""
        return self.stages[self.stage]

    @property
    def random_choices(self) -> list[int]:
        """JSRL-Random's {H_1..H_n}: every stage in which the guide acts (h > 0)."""
        return [h for h in self.stages if h > 0] or [0]

    @property
    def done(self) -> bool:
        """The last stage (h = 0, explorer alone) has been reached."""
        return self.stage == len(self.stages) - 1

    def guide_step_for_episode(self, rng: np.random.Generator) -> int:
        """h for the next training episode; only random mode draws from ``rng``."""
        if self.config.mode == "random":
            choices = self.random_choices
            return choices[int(rng.integers(len(choices)))]
        return self.guide_step

    def moving_average(self) -> float | None:
        """Mean of the current stage's window, or None until the window is full."""
        if len(self.window) < self.config.window:
            return None
        return sum(self.window) / len(self.window)

    def record_evaluation(self, value: float) -> bool:
        """Feed one evaluation of the combined policy; True when this advanced the stage."""
        if not math.isfinite(value):
            raise ValueError(f"curriculum: evaluation must be a finite number, got {value!r}")
        self.window.append(float(value))
        average = self.last_average = self.moving_average()
        if average is None:
            return False
        self.best = average if self.best is None else max(self.best, average)
        if self.config.mode == "random" or self.done:
            return False
        if average >= self.best - self.config.tolerance * abs(self.best):
            self.stage += 1
            self.window.clear()
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "stage": self.stage, "best": self.best,
                "window": list(self.window), "mode": self.config.mode}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["mode"] != self.config.mode:
            raise ValueError(f"curriculum: saved mode {state['mode']!r} != configured {self.config.mode!r}")
        stages = [int(h) for h in state["stages"]]
        if not 0 <= state["stage"] < len(stages):
            raise ValueError(f"curriculum: saved stage {state['stage']} outside stages {stages}")
        self.stages = stages
        self.stage = int(state["stage"])
        self.best = None if state["best"] is None else float(state["best"])
        self.window = deque((float(v) for v in state["window"]), maxlen=self.config.window)
