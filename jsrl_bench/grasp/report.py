"""The grasping benchmark's result: JSON summary per cell and method, and the printed table."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

import numpy as np

from jsrl_bench.grasp.config import DEMOS_IN_REPLAY, ONLINE_METHODS, Cell, GraspBenchConfig
from jsrl_bench.sweep import common
from jsrl_bench.sweep.common import failures, online_entry, spread
from jsrl_learning.config import from_mapping
from jsrl_learning.learners.qtopt import QTOptConfig


def summarize(cfg: GraspBenchConfig, cells: list[Cell], jobs: list[dict[str, Any]], wall_s: float,
              settings: Mapping[str, Any]) -> dict[str, Any]:
    """The result JSON but its job records: per cell and method, final success (mean, std over seeds),
    curves, settings (``common.sweep_settings``)."""
    results = []
    for cell in cells:
        preps = {j["seed"]: j for j in jobs if j["job"] == "prepare" and j["cell"] == asdict(cell)}
        if not preps:
            continue
        methods: dict[str, Any] = {}
        for method in cfg.methods:
            runs = ([preps[s] for s in cfg.seeds if s in preps] if method == "bc" else
                    [j for s in cfg.seeds for j in jobs if j["job"] == "online" and j["cell"] == asdict(cell)
                     and j["method"] == method and j["seed"] == s])
            if runs:
                methods[method] = _method_entry(cfg, cell, method, runs)
        results.append({"task": cell.task, "obs": cell.obs, "demos": cell.demos,
                        "demo_stats": {str(s): {k: p[k] for k in ("demo_episodes", "demo_attempts", "demo_transitions",
                                                                   "scripted_success_train")}
                                       for s, p in preps.items()},
                        "methods": methods})
    cpu_s = sum(j["cpu_s"] for j in jobs)
    failed = failures(jobs)
    return {"benchmark": "grasp", "settings": dict(settings),
            "complete": not failed and len(jobs) == len(cells) * len(cfg.seeds) * (
                1 + sum(m in ONLINE_METHODS for m in cfg.methods)),
            "jobs_done": len(jobs), "failed": failed, "wall_s": wall_s, "jobs_cpu_s": cpu_s, "results": results}


def _method_entry(cfg: GraspBenchConfig, cell: Cell, method: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    settings = method_settings(cfg, cell, method)
    if method != "bc":
        return {**online_entry(runs, "success", 1.0, cfg.eval_every_steps), "settings": settings}
    finals = [r["success"] for r in runs]
    return {**spread("success", finals), "seeds": [r["seed"] for r in runs], "settings": settings,
            "curve": {"steps": [0], "success": [float(np.mean(finals))], "success_per_seed": [[f] for f in finals]}}


def method_settings(cfg: GraspBenchConfig, cell: Cell, method: str) -> dict[str, Any]:
    """Everything that defines a method's runs in this cell (the JSON's per-method settings)."""
    base = {"task": cell.task, "obs": cell.obs, "demos": cell.demos, "seeds": list(cfg.seeds),
            "train_objects": "train", "eval_objects": "test", "final_eval_episodes": cfg.final_eval_episodes,
            "env_kwargs": dict(cfg.env_kwargs), "demo_noise": cfg.demo_noise, "bc": asdict(cfg.bc)}
    if method == "bc":
        return {**base, "online_steps": 0}
    online = {**base, "online_steps": cfg.online_steps, "learner": "qtopt",
              "qtopt": asdict(from_mapping(QTOptConfig, cfg.qtopt, "qtopt")), "batch_size": cfg.batch_size,
              "updates_per_step": cfg.updates_per_step, "online_capacity": cfg.online_capacity,
              "eval_every_steps": cfg.eval_every_steps, "eval_episodes": cfg.eval_episodes,
              "timeouts_terminal": cfg.timeouts_terminal}
    if method in DEMOS_IN_REPLAY:
        online = {**online, "demos_in_replay": True, "offline_updates": cfg.qtopt_offline_updates,
                  "online_fraction": cfg.qtopt_online_fraction}
    else:
        online = {**online, "demos_in_replay": False, "offline_updates": 0}
    if method == "qtopt":
        return {**online, "guide": None}
    return {**online, "guide": "bc", "warm_start": False,
            "curriculum": {"mode": "random" if method == "jsrl_random" else "curriculum", "rule": cfg.rule,
                           "n_stages": cfg.n_stages, "window": cfg.window, "tolerance": cfg.tolerance,
                           "guide_tolerance": cfg.guide_tolerance, "metric": "success_rate",
                           "h1": "estimated from the BC guide" if cfg.h1 is None else cfg.h1,
                           "h1_rollouts": cfg.h1_rollouts}}


def format_table(result: Mapping[str, Any]) -> str:
    """Held-out success per cell and method: the policy alone and the combined one at the final h
    (mean ± std over seeds), steps to 0.5 and 0.8, and the seeds' values (``common.format_table``)."""
    return common.format_table(result, "success", [("task", "task", "<15"), ("obs", "obs", "<7"),
                                                   ("demos", "demos", ">6")], 2)
