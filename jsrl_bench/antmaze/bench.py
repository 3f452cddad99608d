"""AntMaze benchmark: IQL+JSRL against IQL fine-tuning in the small-data regime (the paper's Table 1).

Per maze and dataset size (transitions of the noisy scripted guide, ``jsrl_bench.antmaze.datasets``),
for every seed:

1. ``iql_offline``: IQL pre-trained on the dataset alone (``offline_updates``), scored as is;
   its greedy policy is saved as a checkpoint: JSRL's guide, as in the paper;
2. ``iql``: that policy fine-tuned online (warm start), replay = dataset + online FIFO sampled
   25/75, no guide;
3. ``jsrl``: a fresh IQL explorer (cold start, DESIGN.md's default; ``warm_start`` copies the
   guide instead) pre-trained on the dataset for the same ``offline_updates`` (so every arm has
   the same gradient updates and offline data), with the same replay mix, behind the
   pre-trained guide, with the curriculum (guide rule: the bar is the guide's own score);
4. ``jsrl_random``: the same with JSRL-Random (h drawn per episode from the stages).

H1 (the guide's mean steps to success) comes from the ``iql_offline`` scoring rollouts; if the
pre-trained policy never reaches the goal it is their mean length, i.e. the time limit (the
guide then drives whole episodes until the curriculum hands over). The score is the paper's
normalised score, 100 x the success rate of the policy alone (explorer, no guide steps) over
``final_eval_episodes`` episodes with the same reset seeds for every method and seed
(``combined_score``: the guide for the curriculum's final h, then the explorer); curves
are the trainer's evaluations every ``eval_every_steps`` online steps (explorer alone, and the
combined policy). IQL's rewards are shifted by ``iql.reward_shift`` (-1, D4RL) in the learner,
and with ``normalize_obs`` every run's IQL standardises observations with the dataset's mean and
std (CORL's IQL does; without it, IQL took far more updates to walk: docs/antmaze_results.md).

One dataset per (maze, size) is shared by the seeds (the paper's seeds vary the learner, not
D4RL's data). Jobs run in worker processes (``common.py``); the JSON is rewritten after every
job, and a re-run on the same ``out`` with the same settings runs only the jobs it lacks. Settings come from a YAML (``config/bench/antmaze_quick.yaml``, ``config/bench/antmaze_full.yaml``),
fixed a priori: see docs/antmaze_results.md.
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import gymnasium as gym
import numpy as np

from jsrl_bench.antmaze.datasets import ANTMAZE_ENV_ID, ANTMAZE_MAZES, generate_antmaze_dataset
from jsrl_bench.sweep import common
from jsrl_bench.sweep.common import (Job, derive_seed, failures, job_name, online_entry, online_run, run_sweep, spread,
                                     sweep_settings)
from jsrl_bench.sweep.config_checks import require_choices, require_positive_ints, require_seeds, require_sizes
from jsrl_learning.buffers import Batch
from jsrl_learning.checkpoint import save_checkpoint
from jsrl_learning.config import from_mapping, read_yaml, require
from jsrl_learning.curriculum import CurriculumConfig
from jsrl_learning.datasets import load_dataset
from jsrl_learning.guides import GuideSpec, PolicyCheckpointGuide
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.learners import make_learner
from jsrl_learning.learners.iql import IQLConfig
from jsrl_learning.online import OnlineLearning
from jsrl_learning.rollout import run_episode
from jsrl_learning.trainer import TrainConfig

METHODS = ("iql_offline", "iql", "jsrl", "jsrl_random")
ONLINE_METHODS = ("iql", "jsrl", "jsrl_random")
FINAL_EVAL_SEED = 8_000_000  # first reset seed of the scoring episodes (shared by all methods and runs)
# Independent seed streams per bench seed.
LEARNER_STREAM, PRETRAIN_STREAM, TRAIN_STREAM = 0, 1, 2


@dataclass
class AntMazeBenchConfig:
    """One sweep. ``iql`` holds ``IQLConfig`` keys (its seed is derived per run); ``env_kwargs`` are
    extra ``jsrl/AntMaze-v0`` settings (e.g. ``max_steps``) for the data, training and scoring envs."""

    RENAMED: ClassVar[dict[str, str]] = common.RENAMED_SETTINGS

    mazes: list[str]
    dataset_sizes: list[int]
    seeds: list[int]
    offline_updates: int
    online_steps: int
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    dataset_noise: float = 0.2
    dataset_seed: int = 0
    iql: dict[str, Any] = field(default_factory=lambda: {"reward_shift": -1.0})
    batch_size: int = 256
    updates_per_step: float = 1.0
    online_capacity: int = 100_000
    online_fraction: float = 0.75
    eval_every_steps: int = 10_000
    eval_episodes: int = 10
    final_eval_episodes: int = 100
    n_stages: int = 10
    window: int = 5
    rule: str = "guide"
    tolerance: float = 0.05
    guide_tolerance: float = 0.2
    warm_start: bool = False
    normalize_obs: bool = True
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    workers: int = 2

    def validate(self, where: str) -> None:
        require_choices(self, "mazes", ANTMAZE_MAZES, where)
        require_choices(self, "methods", METHODS, where)
        require_sizes(self, "dataset_sizes", where)
        require_seeds(self, where)
        require_positive_ints(self, ("offline_updates", "online_steps", "batch_size", "online_capacity", "eval_every_steps",
                                     "eval_episodes", "final_eval_episodes", "n_stages", "window", "workers"), where)
        require(self.updates_per_step >= 0, where, f"updates_per_step must be >= 0, got {self.updates_per_step!r}")
        require(0.0 <= self.online_fraction <= 1.0, where,
                f"online_fraction must be in [0, 1], got {self.online_fraction!r}")
        require(self.dataset_noise >= 0, where, f"dataset_noise must be >= 0, got {self.dataset_noise!r}")
        require(self.tolerance >= 0, where, f"tolerance must be >= 0, got {self.tolerance!r}")
        CurriculumConfig(rule=self.rule, guide_tolerance=self.guide_tolerance).validate(where)
        for name in ("warm_start", "normalize_obs"):
            require(isinstance(getattr(self, name), bool), where,
                    f"{name} must be true or false, got {getattr(self, name)!r}")
        for key, why in (("seed", "derived from the bench seed"), ("batch_size", "the bench's batch_size"),
                         ("obs_mean", "the dataset's (normalize_obs)"), ("obs_std", "the dataset's (normalize_obs)")):
            require(key not in self.iql, where, f"iql.{key} is {why}; remove it")
        require("maze" not in self.env_kwargs, where, "env_kwargs.maze is set by the bench (mazes); remove it")
        from_mapping(IQLConfig, self.iql, f"{where}.iql")  # unknown keys and bad values, named


def load_bench_config(path: str | Path) -> AntMazeBenchConfig:
    """A bench config from YAML; unknown keys and bad values are named with the file."""
    return from_mapping(AntMazeBenchConfig, read_yaml(path), str(path))


@dataclass(frozen=True)
class Cell:
    """One (maze, dataset size): a row of the result table."""

    maze: str
    dataset_size: int

    @property
    def name(self) -> str:
        return f"{self.maze}-{self.dataset_size}"


# ----- jobs (run in worker processes) ---------------------------------------------------------


def make_dataset(cfg: AntMazeBenchConfig, cell: Cell, work_dir: Path) -> dict[str, Any]:
    """The cell's dataset, generated fresh under ``work_dir`` (Minari never overwrites)."""
    root = work_dir / cell.name / "minari"
    shutil.rmtree(root, ignore_errors=True)
    record = generate_antmaze_dataset(cell.maze, cell.dataset_size, cfg.dataset_noise,
                                      f"jsrl/antmaze/bench-{cell.name}-v0", cfg.dataset_seed, root, cfg.env_kwargs)
    data = record.to_json()
    data["dataset_seed"] = data.pop("seed")  # a record's "seed" is a bench seed (what resuming keys jobs by)
    return {"job": "dataset", "cell": asdict(cell), **data}


def _learner_config(cfg: AntMazeBenchConfig, seed: int, obs_stats: Mapping[str, list[float]]) -> dict[str, Any]:
    """The IQL config of every run of a seed: the bench's, its seed, and the dataset's observation statistics."""
    return {**cfg.iql, **obs_stats, "seed": derive_seed(seed, LEARNER_STREAM) % 2**31}


def obs_statistics(data: Batch) -> dict[str, list[float]]:
    """The dataset's per-entry observation mean and std (std floored at 1e-3: constant entries stay finite)."""
    return {"obs_mean": data.obs.mean(axis=0).tolist(),
            "obs_std": np.maximum(data.obs.std(axis=0), 1e-3).tolist()}


def _env_kwargs(cfg: AntMazeBenchConfig, cell: Cell) -> dict[str, Any]:
    return {**cfg.env_kwargs, "maze": cell.maze}


def pretrain(cfg: AntMazeBenchConfig, cell: Cell, seed: int, dataset: str, work_dir: Path) -> dict[str, Any]:
    """IQL on the dataset alone; saves its policy (JSRL's guide) and scores it, which also gives H1."""
    start, cpu = time.perf_counter(), time.process_time()
    env = gym.make(ANTMAZE_ENV_ID, **_env_kwargs(cfg, cell))
    data = load_dataset(dataset)
    obs_stats = obs_statistics(data) if cfg.normalize_obs else {}
    learner_config = _learner_config(cfg, seed, obs_stats)
    learner = make_learner("iql", learner_config, env.observation_space, env.action_space, "antmaze bench.iql")
    learning = OnlineLearning(learner, env.observation_space, env.action_space, capacity=1,
                              batch_size=cfg.batch_size, updates_per_step=0.0,
                              rng=np.random.default_rng(derive_seed(seed, PRETRAIN_STREAM)), offline=data)
    losses = [learning.offline_step() for _ in range(cfg.offline_updates)]
    guide_path = work_dir / cell.name / f"seed{seed}" / "iql_offline.pt"
    save_checkpoint(guide_path, {"policy": policy_state("iql", learner_config, env.observation_space,
                                                        env.action_space, learner)})
    greedy = PolicyCheckpointGuide(learner, "iql")
    episodes = [run_episode(env, greedy, greedy.act, sys.maxsize, seed=FINAL_EVAL_SEED + i)
                for i in range(cfg.final_eval_episodes)]
    to_goal = [e.length for e in episodes if e.success]
    h1 = float(np.mean(to_goal)) if to_goal else float(np.mean([e.length for e in episodes]))
    last = {k: float(np.mean([m[k] for m in losses[-100:]])) for k in losses[-1]}
    return {"job": "pretrain", "cell": asdict(cell), "seed": seed, "guide_path": str(guide_path), "obs_stats": obs_stats,
            "success": len(to_goal) / len(episodes), "h1": h1, "h1_from_successes": bool(to_goal),
            "final_losses": last, "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def train_config(cfg: AntMazeBenchConfig, cell: Cell, seed: int, method: str, dataset: str, guide_path: str,
                 h1: float, obs_stats: Mapping[str, list[float]], out_dir: Path,
                 guide_success: float | None = None) -> TrainConfig:
    """The trainer's config for one online run: what makes the methods differ is all here.

    Every arm gets the dataset in its replay and ``offline_updates`` on it: ``iql`` inherits them
    from the pre-trained policy it fine-tunes, JSRL's cold-start explorer makes its own before
    going online. ``guide_success`` (the guide's own score from its pre-training job) is the
    guide curriculum rule's reference, so no extra guide rollouts are run."""
    iql = method == "iql"
    curriculum = CurriculumConfig(
        mode="random" if method == "jsrl_random" else "curriculum", n_stages=cfg.n_stages, window=cfg.window,
        rule=cfg.rule, tolerance=cfg.tolerance, guide_tolerance=cfg.guide_tolerance, metric="success_rate",
        reference=guide_success,
        h1=0.0 if iql else h1)  # h1 = 0: the guide never acts
    return TrainConfig(
        env_id=ANTMAZE_ENV_ID, env_kwargs=_env_kwargs(cfg, cell), seed=derive_seed(seed, TRAIN_STREAM),
        total_env_steps=cfg.online_steps, learner="iql", learner_config=_learner_config(cfg, seed, obs_stats),
        guide=GuideSpec(kind="policy_checkpoint", path=guide_path), curriculum=curriculum,
        warm_start=iql or cfg.warm_start, offline_dataset=dataset,
        offline_updates=0 if iql or cfg.warm_start else cfg.offline_updates,
        online_fraction=cfg.online_fraction, updates_per_step=cfg.updates_per_step, batch_size=cfg.batch_size,
        online_capacity=cfg.online_capacity, eval_every_steps=cfg.eval_every_steps, eval_episodes=cfg.eval_episodes,
        checkpoint_every_steps=0, out_dir=str(out_dir))


def run_online(cfg: AntMazeBenchConfig, cell: Cell, seed: int, method: str, dataset: str, guide_path: str,
               h1: float, obs_stats: Mapping[str, list[float]], work_dir: Path,
               guide_success: float | None = None) -> dict[str, Any]:
    """One fine-tuning run; its curve and its explorer's final success, alone."""
    out_dir = work_dir / cell.name / f"seed{seed}" / method
    config = train_config(cfg, cell, seed, method, dataset, guide_path, h1, obs_stats, out_dir, guide_success)
    return {"job": "online", "cell": asdict(cell), "seed": seed, "method": method,
            **online_run(config, cfg.final_eval_episodes, FINAL_EVAL_SEED)}


# ----- the sweep -------------------------------------------------------------------------------


def prepared_files(record: Mapping[str, Any]) -> list[str]:
    """What a finished job leaves for later ones (a resumed sweep re-runs a job whose files are gone)."""
    return {"dataset": [record.get("path")], "pretrain": [record.get("guide_path")]}.get(record["job"], [])


def run_antmaze_bench(cfg: AntMazeBenchConfig, out: Path, work_dir: Path,
                      report: Callable[[dict[str, Any]], None] = lambda job: None,
                      settings_extra: Mapping[str, Any] | None = None, fresh: bool = False,
                      merge: Sequence[Path] = ()) -> dict[str, Any]:
    """Run every cell's jobs, rewriting ``out`` (JSON) after each; return the result.

    Cells run in config order, dataset sizes outermost, then mazes. A cell's dataset is
    generated first, then its seeds' pre-training, then their online runs; the next cell's
    dataset is queued once this cell's online runs are, so cells finish in order. A failed job
    is recorded (``failed`` in the JSON) and its follow-ups skipped; the sweep goes on.
    If ``out`` holds this sweep already (same settings but seeds and workers; else a ConfigError),
    its finished jobs are kept and not run again, unless ``fresh``; so are those of the result files
    ``merge`` (parts of this sweep run elsewhere).
    """
    cfg.validate("antmaze bench")
    cells = [Cell(m, n) for n in cfg.dataset_sizes for m in cfg.mazes]
    online = [m for m in cfg.methods if m in ONLINE_METHODS]
    settings = sweep_settings(cfg, settings_extra)
    waiting_seeds: dict[str, int] = {}
    datasets: dict[str, str] = {}

    def dataset_job(index: int) -> list[Job]:
        if index >= len(cells):
            return []
        return [Job(make_dataset, (cfg, cells[index], work_dir), {"cell": asdict(cells[index]), "method": "dataset"})]

    def follow_ups(job: dict[str, Any]) -> list[Job]:
        cell, ok = Cell(**job["cell"]), job["job"] != "failed"
        if job_name(job) == "dataset":
            if not ok:  # no data, no seeds to run: on to the next cell
                return dataset_job(cells.index(cell) + 1)
            datasets[cell.name] = job["path"]
            waiting_seeds[cell.name] = len(cfg.seeds)
            return [Job(pretrain, (cfg, cell, s, job["path"], work_dir),
                        {"cell": job["cell"], "seed": s, "method": "pretrain"}) for s in cfg.seeds]
        if job_name(job) == "pretrain":
            follow = [Job(run_online, (cfg, cell, job["seed"], m, datasets[cell.name], job["guide_path"], job["h1"],
                                       job["obs_stats"], work_dir, job["success"]),
                          {"cell": job["cell"], "seed": job["seed"], "method": m})
                      for m in (online if ok else ())]
            waiting_seeds[cell.name] -= 1
            if waiting_seeds[cell.name] == 0:
                follow += dataset_job(cells.index(cell) + 1)
            return follow
        return []

    return run_sweep("antmaze", out, settings, cfg.workers, dataset_job(0), follow_ups,
                     lambda jobs, wall_s: summarize(cfg, cells, jobs, wall_s, settings), prepared_files, report, fresh, merge)


def summarize(cfg: AntMazeBenchConfig, cells: list[Cell], jobs: list[dict[str, Any]], wall_s: float,
              settings: Mapping[str, Any]) -> dict[str, Any]:
    """The result JSON but its job records: per cell and method, final score (mean, std over seeds),
    curves, settings (``common.sweep_settings``)."""
    results = []
    for cell in cells:
        mine = [j for j in jobs if j["cell"] == asdict(cell)]
        dataset = next((j for j in mine if j["job"] == "dataset"), None)
        if dataset is None:
            continue
        methods: dict[str, Any] = {}
        for method in cfg.methods:
            kind = "pretrain" if method == "iql_offline" else "online"
            runs = [j for s in cfg.seeds for j in mine
                    if j["job"] == kind and j["seed"] == s and j.get("method", "iql_offline") == method]
            if runs:
                methods[method] = _method_entry(cfg, cell, method, runs)
        results.append({"maze": cell.maze, "dataset_size": cell.dataset_size,
                        "dataset": {k: v for k, v in dataset.items() if k not in ("job", "cell", "finished_at")},
                        "methods": methods})
    per_cell = 1 + len(cfg.seeds) * (1 + sum(m in ONLINE_METHODS for m in cfg.methods))
    failed = failures(jobs)
    return {"benchmark": "antmaze", "score": "100 x success rate of the policy alone", "settings": dict(settings),
            "complete": not failed and len(jobs) == len(cells) * per_cell, "jobs_done": len(jobs), "failed": failed,
            "wall_s": wall_s, "jobs_cpu_s": sum(j.get("cpu_s", 0.0) for j in jobs), "results": results}


def _method_entry(cfg: AntMazeBenchConfig, cell: Cell, method: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    settings = method_settings(cfg, cell, method)
    if method != "iql_offline":
        return {**online_entry(runs, "score", 100.0, cfg.eval_every_steps), "settings": settings}
    scores = [100.0 * r["success"] for r in runs]
    return {**spread("score", scores), "seeds": [r["seed"] for r in runs], "settings": settings,
            "curve": {"steps": [0], "score": [float(np.mean(scores))], "score_per_seed": [[s] for s in scores]},
            "runs": [{k: r[k] for k in ("seed", "h1", "h1_from_successes", "final_losses", "wall_s", "cpu_s")}
                     for r in runs]}


def method_settings(cfg: AntMazeBenchConfig, cell: Cell, method: str) -> dict[str, Any]:
    """Everything that defines a method's runs in this cell (the JSON's per-method settings)."""
    base = {"maze": cell.maze, "dataset_size": cell.dataset_size, "dataset_noise": cfg.dataset_noise,
            "dataset_seed": cfg.dataset_seed, "seeds": list(cfg.seeds), "learner": "iql",
            "iql": asdict(from_mapping(IQLConfig, cfg.iql, "iql")), "batch_size": cfg.batch_size,
            "normalize_obs": "the dataset's mean and std" if cfg.normalize_obs else False,
            "env_kwargs": dict(cfg.env_kwargs),
            "offline_updates": cfg.offline_updates, "final_eval_episodes": cfg.final_eval_episodes}
    if method == "iql_offline":
        return {**base, "online_steps": 0}
    online = {**base, "online_steps": cfg.online_steps, "updates_per_step": cfg.updates_per_step,
              "online_capacity": cfg.online_capacity, "online_fraction": cfg.online_fraction,
              "eval_every_steps": cfg.eval_every_steps, "eval_episodes": cfg.eval_episodes}
    if method == "iql":
        return {**online, "guide": None, "init": "iql_offline (warm start)"}
    return {**online, "guide": "iql_offline (greedy)", "init": "iql_offline (warm start)" if cfg.warm_start
            else "fresh (cold start)",
            "curriculum": {"mode": "random" if method == "jsrl_random" else "curriculum", "n_stages": cfg.n_stages,
                           "window": cfg.window, "rule": cfg.rule, "tolerance": cfg.tolerance,
                           "guide_tolerance": cfg.guide_tolerance, "metric": "success_rate",
                           "h1": "iql_offline's mean steps to success (its scoring rollouts)"}}


def format_table(result: Mapping[str, Any]) -> str:
    """Normalised score per cell and method: the policy alone and the combined one at the final h
    (mean ± std over seeds), steps to success 0.5 and 0.8, and the seeds' values (``common.format_table``)."""
    return common.format_table(result, "score", [("maze", "maze", "<8"), ("dataset", "dataset_size", ">8")], 1)
