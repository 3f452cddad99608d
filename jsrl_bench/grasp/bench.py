"""Grasping benchmark: QT-Opt+JSRL against QT-Opt and BC with few demonstrations (the paper's simulated grasping).

Per task (indiscriminate, instance), observation mode and demo count N, for every seed:

1. *demos*: N successful grasps by the scripted guide on the **training** objects, written as a
   Minari dataset (``jsrl_bench.demos``);
2. ``bc``: behaviour cloning on those demos, scored on the **held-out** objects;
3. ``qtopt``: QT-Opt pre-trained offline on the demos, then trained online with the demos kept
   in its replay (a fixed share of every batch), no guide;
4. ``jsrl``: QT-Opt from scratch (cold start) as JSRL's explorer behind the BC guide, with the
   curriculum; as in the paper for grasping, the demos are **not** in its replay;
5. ``jsrl_random``: the same with JSRL-Random (h drawn per episode from the stages);
6. ``jsrl_demos``: ``jsrl`` (BC guide, curriculum, cold start) with the demos in its replay
   exactly as ``qtopt`` has them: the same dataset, ``qtopt_offline_updates`` of pre-training on
   it, then ``qtopt_online_fraction`` of every batch online. Not the paper's arm: it separates
   what the guide adds from what the demos in the replay add, so that ``jsrl`` vs ``qtopt`` is not
   read as guide vs no guide when the two also differ in data.

Every online arm has the same learner, batch, ``updates_per_step``, budget and env episodes.
Online runs train on the training objects and are evaluated on the held-out ones every
``eval_every_steps`` env steps (``eval_env_kwargs``). A method's final ``success`` is its policy alone —
the explorer with no guide steps for the RL methods (what is deployed), the cloned policy for
BC — over ``final_eval_episodes`` held-out episodes, the same episodes for every method and seed;
``combined_success`` scores, over the same episodes, the guide for the curriculum's final h then
the explorer (for ``qtopt``, h = 0: the same policy).

Jobs (one demo set + BC per seed, then one online run per method and seed) run in worker
processes (``common.py``); the JSON is rewritten after every finished job, so a killed run
keeps what it finished, and a re-run on the same ``out`` with the same settings runs only the
jobs it lacks. Settings: ``grasp_config.py``; summary and table: ``grasp_report.py``;
plots: ``grasp_plot.py``.
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np

from jsrl_bench.demos import record_demos
from jsrl_bench.grasp.config import DEMOS_IN_REPLAY, ONLINE_METHODS, Cell, GraspBenchConfig
from jsrl_bench.grasp.report import summarize
from jsrl_bench.grasp.world import GRASP_ENV_ID, grasp_env_kwargs, grasp_scripted_guide
from jsrl_bench.sweep.common import Job, derive_seed, job_name, online_run, run_sweep, sweep_settings
from jsrl_learning.curriculum import CurriculumConfig
from jsrl_learning.datasets import load_dataset
from jsrl_learning.guides import BCGuide, GuideSpec
from jsrl_learning.rollout import evaluate
from jsrl_learning.trainer import TrainConfig

FINAL_EVAL_SEED = 7_000_000  # first reset seed of the final held-out episodes (shared by all runs)
# Independent seed streams per bench seed.
DEMO_STREAM, BC_STREAM, LEARNER_STREAM, TRAIN_STREAM = 0, 1, 2, 3


def _seed_dir(work_dir: Path, cell: Cell, seed: int) -> Path:
    return work_dir / cell.name / f"seed{seed}"


def _env_kwargs(cfg: GraspBenchConfig, cell: Cell, object_set: str) -> dict[str, Any]:
    return grasp_env_kwargs(cell.task, cell.obs, object_set, **cfg.env_kwargs)


def prepare_seed(cfg: GraspBenchConfig, cell: Cell, seed: int, work_dir: Path) -> dict[str, Any]:
    """Demos on the training objects, BC trained on them and scored on the held-out objects."""
    start, cpu = time.perf_counter(), time.process_time()
    out = _seed_dir(work_dir, cell, seed)
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: Minari refuses to overwrite a dataset
    out.mkdir(parents=True)
    record = record_demos(GRASP_ENV_ID, _env_kwargs(cfg, cell, "train"),
                          grasp_scripted_guide(cfg.demo_noise, seed=derive_seed(seed, DEMO_STREAM)), cell.demos,
                          f"jsrl/grasp/{cell.name}-seed{seed}-v0", seed=derive_seed(seed, DEMO_STREAM) % 2**31,
                          root=out / "minari")
    data = load_dataset(str(record.path))
    test_env = gym.make(GRASP_ENV_ID, **_env_kwargs(cfg, cell, "test"))
    bc = BCGuide.train(data, replace(cfg.bc, seed=derive_seed(seed, BC_STREAM) % 2**31), test_env.action_space)
    bc_path = out / "bc.pt"
    bc.save(bc_path)
    score = evaluate(test_env, bc, bc.act, sys.maxsize, cfg.final_eval_episodes, FINAL_EVAL_SEED)
    return {"job": "prepare", "cell": asdict(cell), "seed": seed, "dataset": str(record.path),
            "bc_path": str(bc_path), "demo_episodes": record.episodes, "demo_attempts": record.attempts,
            "demo_transitions": record.transitions, "scripted_success_train": record.guide_success_rate,
            "bc_final_loss": float(np.mean(bc.losses[-100:])) if bc.losses else None,
            "success": score.success_rate, "mean_length": score.mean_length,
            "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def train_config(cfg: GraspBenchConfig, cell: Cell, seed: int, method: str, dataset: str, bc_path: str,
                 out_dir: Path) -> TrainConfig:
    """The trainer's config for one online run: what makes the methods differ is all here."""
    demos_in_replay = method in DEMOS_IN_REPLAY
    curriculum = CurriculumConfig(
        mode="random" if method == "jsrl_random" else "curriculum", rule=cfg.rule, n_stages=cfg.n_stages,
        window=cfg.window, tolerance=cfg.tolerance, guide_tolerance=cfg.guide_tolerance, metric="success_rate",
        h1_rollouts=cfg.h1_rollouts,
        h1=0.0 if method == "qtopt" else cfg.h1)  # h1 = 0: a single stage h = 0, the guide never acts
    return TrainConfig(
        env_id=GRASP_ENV_ID, env_kwargs=_env_kwargs(cfg, cell, "train"), eval_env_kwargs={"object_set": "test"},
        seed=derive_seed(seed, TRAIN_STREAM), total_env_steps=cfg.online_steps, learner="qtopt",
        learner_config={**cfg.qtopt, "seed": derive_seed(seed, LEARNER_STREAM) % 2**31},
        guide=GuideSpec(kind="bc", path=bc_path), curriculum=curriculum, warm_start=False,
        offline_dataset=dataset if demos_in_replay else None,
        offline_updates=cfg.qtopt_offline_updates if demos_in_replay else 0,
        online_fraction=cfg.qtopt_online_fraction, updates_per_step=cfg.updates_per_step,
        batch_size=cfg.batch_size, online_capacity=cfg.online_capacity, eval_every_steps=cfg.eval_every_steps,
        eval_episodes=cfg.eval_episodes, checkpoint_every_steps=0, timeouts_terminal=cfg.timeouts_terminal,
        out_dir=str(out_dir))


def run_online(cfg: GraspBenchConfig, cell: Cell, seed: int, method: str, dataset: str, bc_path: str,
               work_dir: Path) -> dict[str, Any]:
    """One online run; its curve (held-out evaluations) and its explorer's final held-out success."""
    config = train_config(cfg, cell, seed, method, dataset, bc_path, _seed_dir(work_dir, cell, seed) / method)
    return {"job": "online", "cell": asdict(cell), "seed": seed, "method": method,
            **online_run(config, cfg.final_eval_episodes, FINAL_EVAL_SEED)}


# ----- the sweep -------------------------------------------------------------------------------


def prepared_files(record: Mapping[str, Any]) -> list[str]:
    """What a finished job leaves for later ones (a resumed sweep re-runs a preparation whose files are gone)."""
    return [record["dataset"], record["bc_path"]] if record["job"] == "prepare" else []


def run_grasp_bench(cfg: GraspBenchConfig, out: Path, work_dir: Path,
                    report: Callable[[dict[str, Any]], None] = lambda job: None,
                    settings_extra: Mapping[str, Any] | None = None, fresh: bool = False,
                    merge: Sequence[Path] = ()) -> dict[str, Any]:
    """Run every cell's jobs and rewrite ``out`` (JSON) after each finished one; return the result.

    Cells run in config order, demo counts outermost (all tasks with the first count first),
    then tasks, then observation modes. A cell's online runs are queued
    when its seeds' demos and BC are ready, and the next cell's preparation after them, so
    an interrupted run has finished the first cells rather than a bit of every one. A failed
    job is recorded (``failed`` in the JSON) and its follow-ups skipped; the sweep goes on.
    If ``out`` holds this sweep already (same settings but seeds and workers; else a ConfigError),
    its finished jobs are kept and not run again, unless ``fresh``; so are those of the result files
    ``merge`` (parts of this sweep run elsewhere).
    """
    cfg.validate("grasp bench")
    cells = [Cell(t, o, n) for n in cfg.demos for t in cfg.tasks for o in cfg.obs]
    online = [m for m in cfg.methods if m in ONLINE_METHODS]
    settings = sweep_settings(cfg, settings_extra)
    waiting_seeds: dict[Cell, int] = {}
    next_cell = 0

    def preparation() -> list[Job]:
        """The next cell's demos + BC, one job per seed (none when every cell is queued)."""
        nonlocal next_cell
        if next_cell == len(cells):
            return []
        cell, next_cell = cells[next_cell], next_cell + 1
        waiting_seeds[cell] = len(cfg.seeds)
        return [Job(prepare_seed, (cfg, cell, seed, work_dir), {"cell": asdict(cell), "seed": seed, "method": "prepare"})
                for seed in cfg.seeds]

    def follow_ups(job: dict[str, Any]) -> list[Job]:
        if job_name(job) != "prepare":
            return []
        cell, seed = Cell(**job["cell"]), job["seed"]
        follow = [Job(run_online, (cfg, cell, seed, method, job["dataset"], job["bc_path"], work_dir),
                      {"cell": job["cell"], "seed": seed, "method": method})
                  for method in (online if job["job"] == "prepare" else ())]
        waiting_seeds[cell] -= 1
        if waiting_seeds[cell] == 0:
            follow += preparation()
        return follow

    return run_sweep("grasp", out, settings, cfg.workers, preparation(), follow_ups,
                     lambda jobs, wall_s: summarize(cfg, cells, jobs, wall_s, settings), prepared_files, report, fresh, merge)
