"""Combination-lock benchmark: JSRL's Theorem 4.1 measured, not assumed.

For each horizon H and seed, count the training episodes until the explorer ALONE
(greedy, guide-step 0) opens the lock, for

* ``egreedy``: ε-greedy tabular Q-learning from scratch;
* ``jsrl``: the same learner as JSRL's explorer behind an imperfect scripted guide, with
  the real ``Curriculum`` (H1 from ``estimate_h1``, stages, moving-average advance rule)
  and ``run_episode``; every trajectory, guide part included, goes to the learner;
* ``jsrl_explorer_only``: an ablation of ``jsrl`` in which the learner gets only the
  explorer's transitions, so whatever it learns it learned past the guide's switch point:
  the mechanism of the theorem (the curriculum), without learning from the guide's roll-ins.

A run that has not solved the lock by ``budget_episodes`` is censored (None). Settings are
fixed a priori (see docs/combination_lock.md for why each has its value).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, ClassVar

import numpy as np

from jsrl_learning.buffers import Batch
from jsrl_learning.config import require
from jsrl_learning.curriculum import Curriculum, CurriculumConfig
from jsrl_learning.envs import CombinationLockEnv, NoisyLockGuide
from jsrl_learning.episode import EXPLORER, Episode
from jsrl_learning.learners.tabular_q import TabularQConfig, TabularQLearner
from jsrl_learning.rollout import estimate_h1, evaluate, run_episode

METHODS = ("egreedy", "jsrl", "jsrl_explorer_only")
# Independent seed streams per (seed, H): the lock's combination, the learner, the guide.
LOCK_STREAM, LEARNER_STREAM, GUIDE_STREAM = 0, 1, 2


@dataclass
class LockBenchConfig:
    """One sweep. ``stage_size``: guide-steps removed per curriculum stage (n_stages = H1 / stage_size)."""

    RENAMED: ClassVar[dict[str, str]] = {"eval_every": "eval_every_episodes"}

    horizons: list[int]
    budget_episodes: int
    seeds: list[int]
    n_actions: int = 3
    guide_p: float = 0.98
    epsilon: float = 0.1
    lr: float = 0.5
    gamma: float = 0.99
    eval_every_episodes: int = 5
    eval_episodes: int = 10
    solve_episodes: int = 10
    window: int = 3
    tolerance: float = 0.05
    stage_size: int = 1
    h1_rollouts: int = 100
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    max_horizon: dict[str, int] = field(default_factory=dict)

    def validate(self, where: str) -> None:
        require(bool(self.horizons) and all(isinstance(h, int) and h > 0 for h in self.horizons), where,
                f"horizons must be positive ints, got {self.horizons!r}")
        require(self.horizons == sorted(set(self.horizons)), where, "horizons must be increasing")
        require(bool(self.seeds), where, "seeds must not be empty")
        require(set(self.methods) <= set(METHODS) and bool(self.methods), where,
                f"methods must be a subset of {METHODS}, got {self.methods!r}")
        for name in ("budget_episodes", "eval_every_episodes", "eval_episodes", "solve_episodes", "window",
                     "stage_size", "h1_rollouts"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, where, f"{name} must be a positive int, got {value!r}")
        require(self.n_actions >= 2, where, f"n_actions must be >= 2, got {self.n_actions!r}")
        require(0 < self.guide_p <= 1, where, f"guide_p must be in (0, 1], got {self.guide_p!r}")
        require(set(self.max_horizon) <= set(self.methods), where,
                f"max_horizon names methods not in methods: {sorted(set(self.max_horizon) - set(self.methods))}")


# A priori settings. Each method runs up the H list until its median is censored; JSRL as far
# as H = 128, where the guide (p = 0.98) still opens the lock in ~7% of rollouts, so H1 is
# estimable from 100 of them. The ablation is capped at H = 64: a censored run costs
# budget x H x ~3 env steps (training + evaluations), ~10 min each at H = 64.
FULL = LockBenchConfig(horizons=[2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 96, 128],
                       budget_episodes=100_000, seeds=[0, 1, 2, 3, 4],
                       max_horizon={"jsrl_explorer_only": 64})
QUICK = LockBenchConfig(horizons=[2, 4, 6, 8, 12, 16, 24, 32], budget_episodes=20_000, seeds=[0, 1, 2])


@dataclass
class RunResult:
    """One (method, H, seed) run. ``episodes`` is None when censored at the budget."""

    method: str
    H: int
    seed: int
    episodes: int | None
    train_env_steps: int
    eval_episodes: int
    guide_step_at_end: int | None = None
    stage_at_end: int | None = None
    n_stages: int | None = None
    h1: float | None = None
    guide_success_rate: float | None = None
    wall_s: float = 0.0


def run_single(cfg: LockBenchConfig, method: str, horizon: int, seed: int) -> RunResult:
    """Train until the greedy explorer alone opens the lock ``solve_episodes`` times in a row."""
    start = time.perf_counter()
    derive = lambda stream: int(np.random.SeedSequence([seed, horizon, stream]).generate_state(1)[0])  # noqa: E731
    env = CombinationLockEnv(horizon, cfg.n_actions, seed=derive(LOCK_STREAM))
    learner = TabularQLearner(TabularQConfig(horizon + 2, cfg.n_actions, cfg.lr, cfg.gamma, cfg.epsilon,
                                             derive(LEARNER_STREAM)))
    guide = NoisyLockGuide(env, cfg.guide_p, seed=derive(GUIDE_STREAM))
    explore: Callable[[int], int] = lambda obs: learner.act(obs, explore=True)  # noqa: E731
    greedy: Callable[[int], int] = lambda obs: learner.act(obs, explore=False)  # noqa: E731
    result = RunResult(method, horizon, seed, None, 0, 0)

    curriculum = None
    if method != "egreedy":
        estimate = estimate_h1(env, guide, cfg.h1_rollouts)
        result.h1, result.guide_success_rate = estimate.mean_steps_to_success, estimate.success_rate
        n_stages = max(1, round(estimate.mean_steps_to_success / cfg.stage_size))
        curriculum = Curriculum.from_h1(
            CurriculumConfig(rule="paper", n_stages=n_stages, window=cfg.window, tolerance=cfg.tolerance,
                             metric="success_rate", h1=estimate.mean_steps_to_success),  # as measured (docs)
            estimate.mean_steps_to_success)
        result.n_stages = len(curriculum.stages)

    for episode_index in range(1, cfg.budget_episodes + 1):
        h = 0 if curriculum is None else curriculum.guide_step
        episode = run_episode(env, guide, explore, h)
        result.train_env_steps += episode.length
        batch = _learnable(episode, method)
        if len(batch):
            learner.update(batch)
        if episode_index % cfg.eval_every_episodes:
            continue
        if curriculum is not None:
            combined = evaluate(env, guide, greedy, curriculum.guide_step, cfg.eval_episodes)
            result.eval_episodes += cfg.eval_episodes
            curriculum.record_evaluation(combined.success_rate)
        if _solved(env, guide, greedy, cfg.solve_episodes):
            result.episodes = episode_index
            break
    if curriculum is not None:
        result.guide_step_at_end, result.stage_at_end = curriculum.guide_step, curriculum.stage
    result.wall_s = time.perf_counter() - start
    return result


def _learnable(episode: Episode, method: str) -> Batch:
    """The transitions the learner is given: all of them, or (ablation) the explorer's only."""
    batch = episode.to_batch()
    if method != "jsrl_explorer_only":
        return batch
    keep = np.array([c == EXPLORER for c in episode.controller])
    return Batch(*(getattr(batch, f)[keep] for f in Batch.FIELDS))


def _solved(env: CombinationLockEnv, guide: NoisyLockGuide, greedy: Callable[[int], int], n: int) -> bool:
    """Explorer alone, greedy, succeeds ``n`` times in a row (ties are random, so once is not enough)."""
    return all(run_episode(env, guide, greedy, 0).success for _ in range(n))


def censored_median(values: list[int | None]) -> float | None:
    """Median with censored runs counted as larger than every solved one; None if it is censored."""
    ranked = sorted(math.inf if v is None else v for v in values)
    median = float(np.median(ranked))
    return None if math.isinf(median) or math.isnan(median) else median


def fit_growth(horizons: list[int], episodes: list[float | None]) -> dict[str, float] | None:
    """Least-squares fits of log(episodes) on log(H) (polynomial) and on H (exponential), with R²."""
    pts = [(h, e) for h, e in zip(horizons, episodes) if e is not None and e > 0]
    if len(pts) < 3:
        return None
    h = np.array([p[0] for p in pts], dtype=float)
    y = np.log([p[1] for p in pts])

    def line(x: np.ndarray) -> tuple[float, float]:
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - (slope * x + intercept)
        total = np.sum((y - y.mean()) ** 2)
        return float(slope), float(1 - residual @ residual / total) if total > 0 else 1.0

    loglog_slope, loglog_r2 = line(np.log(h))
    loglin_slope, loglin_r2 = line(h)
    return {"loglog_slope": loglog_slope, "loglog_r2": loglog_r2, "loglin_slope": loglin_slope,
            "loglin_base": math.exp(loglin_slope), "loglin_r2": loglin_r2,
            "H_range": [int(h.min()), int(h.max())], "n_points": len(pts)}


def run_lock_bench(cfg: LockBenchConfig, report: Callable[[RunResult], None] = lambda r: None) -> dict:
    """The whole sweep, H ascending. A method stops at the first H where its median is censored
    (the lock only gets harder, so its medians beyond would be censored too) or past its
    ``max_horizon``; its entries there are None in ``per_seed`` and printed as "-"."""
    cfg.validate("lock bench")
    start = time.perf_counter()
    runs: list[RunResult] = []
    stopped: dict[str, int] = {}
    for horizon in cfg.horizons:
        for method in cfg.methods:
            if method in stopped or horizon > cfg.max_horizon.get(method, horizon):
                continue
            batch = [run_single(cfg, method, horizon, seed) for seed in cfg.seeds]
            for r in batch:
                report(r)
            runs.extend(batch)
            if censored_median([r.episodes for r in batch]) is None:
                stopped[method] = horizon
    result: dict = {"benchmark": "combination_lock", "settings": asdict(cfg), "H": list(cfg.horizons),
                    "median_censored_at_H": stopped, "per_seed": {}, "fits": {}}
    for method in cfg.methods:
        per_h = [[r.episodes for r in runs if r.method == method and r.H == h] for h in cfg.horizons]
        result["per_seed"][method] = [vals if vals else None for vals in per_h]
        medians = [censored_median(vals) if vals else None for vals in per_h]
        result[f"{method}_episodes"] = medians
        result["fits"][method] = fit_growth(cfg.horizons, medians)
    result["runs"] = [asdict(r) for r in runs]
    result["wall_s"] = time.perf_counter() - start
    return result


def format_table(result: dict) -> str:
    """Median episodes per H (">budget" when censored, "-" when not run) and the fitted growth."""
    methods = result["settings"]["methods"]
    budget = result["settings"]["budget_episodes"]
    lines = [f"{'H':>5} " + " ".join(f"{m:>20}" for m in methods)]
    for i, h in enumerate(result["H"]):
        cells = []
        for m in methods:
            seeds = result["per_seed"][m][i]
            median = result[f"{m}_episodes"][i]
            cells.append("-" if seeds is None else f">{budget}" if median is None else f"{median:.0f}")
        lines.append(f"{h:>5} " + " ".join(f"{c:>20}" for c in cells))
    lines.append("")
    for m in methods:
        fit = result["fits"][m]
        if fit is None:
            lines.append(f"{m}: fewer than 3 uncensored medians, no fit")
            continue
        lines.append(
            f"{m} (H {fit['H_range'][0]}..{fit['H_range'][1]}): log-log slope {fit['loglog_slope']:.2f} "
            f"(R² {fit['loglog_r2']:.3f}) | log-linear base {fit['loglin_base']:.3f} per step "
            f"(R² {fit['loglin_r2']:.3f})")
    return "\n".join(lines)
