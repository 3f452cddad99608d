"""JSRL's guide-step schedule: Algorithm 1's curriculum and the JSRL-Random baseline.

Pure Python with JSON-serialisable state, so the same object runs inside the trainer,
inside a ROS curriculum node, and survives a restart mid-curriculum.

Every rule keeps the last ``window`` evaluations of the current stage (the window restarts
empty at every new stage); once full, their mean is the stage's moving average.

``rule: paper`` (Algorithm 1, literally): ``best`` is the highest moving average seen in any
stage (never lowered); advance when the average comes within ``tolerance * |best|`` of it.
It fails in three ways (DESIGN.md): with evaluations of ~0, ``best`` ~0 and every full
window passes, so control is handed over at 0 % success; stage 0's first window sets
``best`` and passes in the same call; and ``best``, a running maximum of noisy means,
ratchets up on luck until the curriculum stalls.

``rule: guide`` (the default): the bar is fixed by what the guide itself achieves — its
``reference`` score, measured over many guide-alone episodes (the trainer does this), or,
if unknown, set by stage 0's first full window without passing it. Advance when the average
reaches ``reference - guide_tolerance * |reference|`` and is above ``floor`` (so a run of
zeros never hands over; with negative returns, set ``floor`` below them). A fixed bar cannot ratchet, and one measured over ~100 episodes
is far less noisy than a maximum of 10-20-episode means. The explorer's own score counts
too: once the explorer alone (h = 0) reaches the bar on average, the curriculum goes
straight to h = 0. Size evaluations so their standard error over a window is well below
``guide_tolerance * reference`` (docs/grasping_results.md).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from jsrl_learning.config import ConfigError, require

MODES = ("curriculum", "random")
RULES = ("guide", "paper")
METRICS = ("return", "success_rate")
STATE_KEYS = ("stages", "stage", "best", "reference", "window", "explorer_window", "mode", "rule")


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
    """How guide-steps are chosen and when the curriculum advances (rules: module docstring).

    ``h1``: the guide's mean steps to success; None estimates it from ``h1_rollouts``
    guide rollouts before training. ``metric``: which evaluation result feeds the
    advance rule. ``tolerance`` is the paper rule's, ``guide_tolerance``, ``floor`` and
    ``reference`` the guide rule's (``reference`` None: measured by the trainer, or set
    by stage 0's first full window).
    """

    mode: str = "curriculum"
    rule: str = "guide"
    n_stages: int = 10
    window: int = 5
    tolerance: float = 0.05
    guide_tolerance: float = 0.2
    floor: float = 0.0
    reference: float | None = None
    metric: str = "return"
    h1: float | None = None
    h1_rollouts: int = 100

    def validate(self, where: str) -> None:
        require(self.mode in MODES, where, f"mode must be one of {MODES}, got {self.mode!r}")
        require(isinstance(self.n_stages, int) and self.n_stages > 0, where,
                f"n_stages must be a positive int, got {self.n_stages!r}")
        require(isinstance(self.window, int) and self.window > 0, where,
                f"window must be a positive int, got {self.window!r}")
        require(self.rule in RULES, where, f"rule must be one of {RULES}, got {self.rule!r}")
        require(self.tolerance >= 0, where, f"tolerance must be >= 0, got {self.tolerance!r}")
        require(0 <= self.guide_tolerance <= 1, where,
                f"guide_tolerance must be in [0, 1], got {self.guide_tolerance!r}")
        require(math.isfinite(self.floor), where, f"floor must be a finite number, got {self.floor!r}")
        require(self.reference is None or math.isfinite(self.reference), where,
                f"reference must be a finite number or null, got {self.reference!r}")
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
        self.reference: float | None = config.reference
        self.window: deque[float] = deque(maxlen=config.window)
        self.explorer_window: deque[float] = deque(maxlen=config.window)
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
        """JSRL-Random's {H_1, ..., H_n, 0}: every stage, the explorer alone included, since
        the policy is scored alone at h = 0 and must have trained there."""
        return list(self.stages)

    @property
    def done(self) -> bool:
        """The last stage (h = 0, explorer alone) has been reached."""
        return self.stage == len(self.stages) - 1

    @property
    def threshold(self) -> float | None:
        """The moving average that advances the stage (None while it is not yet known)."""
        if self.config.rule == "paper":
            return None if self.best is None else self.best - self.config.tolerance * abs(self.best)
        if self.reference is None:
            return None
        return max(self.reference - self.config.guide_tolerance * abs(self.reference),
                   math.nextafter(self.config.floor, math.inf))

    def guide_step_for_episode(self, rng: np.random.Generator) -> int:
        """h for the next training episode; only random mode draws from ``rng``."""
        if self.config.mode == "random":
            choices = self.random_choices
            return choices[int(rng.integers(len(choices)))]
        return self.guide_step

    def moving_average(self) -> float | None:
        """Mean of the current stage's window, or None until the window is full."""
        return _full_mean(self.window)

    def record_evaluation(self, value: float, explorer: float | None = None) -> bool:
        """Feed one evaluation of the combined policy (and, optionally, of the explorer alone at
        h = 0, which the guide rule uses); True when this advanced the stage."""
        for name, score in (("evaluation", value), ("explorer evaluation", explorer)):
            if score is not None and not math.isfinite(score):
                raise ValueError(f"curriculum: {name} must be a finite number, got {score!r}")
        self.window.append(float(value))
        if explorer is not None:
            self.explorer_window.append(float(explorer))
        average = self.last_average = self.moving_average()
        if average is None:
            return False
        self.best = average if self.best is None else max(self.best, average)
        if self.config.rule == "guide" and self.reference is None:
            self.reference = average  # stage 0's first full window is the guide's bar; it does not pass,
            self.window.clear()  # and the stage is judged on a fresh window
            self.explorer_window.clear()
            return False
        if self.config.mode == "random" or self.done:
            return False
        bar = self.threshold
        explorer_average = _full_mean(self.explorer_window)
        if self.config.rule == "guide" and explorer_average is not None and explorer_average >= bar:
            return self._advance_to(len(self.stages) - 1)
        if average >= bar:
            return self._advance_to(self.stage + 1)
        return False

    def _advance_to(self, stage: int) -> bool:
        self.stage = stage
        self.window.clear()
        self.explorer_window.clear()
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "stage": self.stage, "best": self.best, "reference": self.reference,
                "window": list(self.window), "explorer_window": list(self.explorer_window),
                "mode": self.config.mode, "rule": self.config.rule}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`'s output. The state comes from a file, so it is checked first:
        ValueError naming the first key of the wrong type or range (a ``best`` of Infinity would freeze the
        advance rule for ever: inf - inf is NaN)."""
        if not isinstance(state, dict):
            raise ValueError(f"curriculum: the saved state must be a mapping, got {type(state).__name__}")
        unknown = sorted(set(state) - set(STATE_KEYS))
        if unknown:
            raise ValueError(f"curriculum: unknown key(s) {unknown} in the saved state; known: {list(STATE_KEYS)}")
        for key in ("mode", "rule"):
            saved = state.get(key, "paper" if key == "rule" else None)  # states before the guide rule: paper
            if saved != getattr(self.config, key):
                raise ValueError(f"curriculum: saved {key} {saved!r} != configured {getattr(self.config, key)!r}")
        stages = state.get("stages")
        if not (isinstance(stages, list) and stages and all(_is_int(h) and h >= 0 for h in stages)
                and all(a > b for a, b in zip(stages, stages[1:]))):
            raise ValueError(f"curriculum: saved stages must be a list of strictly decreasing ints >= 0, "
                             f"got {stages!r}")
        stage = state.get("stage")
        if not (_is_int(stage) and 0 <= stage < len(stages)):
            raise ValueError(f"curriculum: saved stage must be an int in 0..{len(stages) - 1} (its stages "
                             f"{stages}), got {stage!r}")
        for key in ("best", "reference"):
            if state.get(key) is not None and not _is_finite(state[key]):
                raise ValueError(f"curriculum: saved {key} must be a finite number or null, got {state[key]!r}")
        for key in ("window", "explorer_window"):
            values = state.get(key, [])
            if not (isinstance(values, list) and all(_is_finite(v) for v in values)):
                raise ValueError(f"curriculum: saved {key} must be a list of finite numbers, got {values!r}")
        self.stages = list(stages)
        self.stage = stage
        self.best = None if state.get("best") is None else float(state["best"])
        self.reference = None if state.get("reference") is None else float(state["reference"])
        self.window = deque((float(v) for v in state.get("window", ())), maxlen=self.config.window)
        self.explorer_window = deque((float(v) for v in state.get("explorer_window", ())), maxlen=self.config.window)

    def values(self) -> list[float]:
        """Every evaluation score the state holds (``best``, ``reference``, both windows): what a caller that
        knows the task's range checks a resumed state against."""
        return [v for v in (self.best, self.reference, *self.window, *self.explorer_window) if v is not None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _full_mean(window: deque[float]) -> float | None:
    """Mean of a window once it is full, else None."""
    if len(window) < (window.maxlen or 0):
        return None
    return sum(window) / len(window)
