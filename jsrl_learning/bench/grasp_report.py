"""The grasping benchmark's result: JSON summary per cell and method, and the printed table."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

import numpy as np

from jsrl_learning.bench.common import failures, mean_curves, table_rows
from jsrl_learning.bench.grasp_config import ONLINE_METHODS, Cell, GraspBenchConfig
from jsrl_learning.config import from_mapping
from jsrl_learning.learners.qtopt import QTOptConfig


def summarize(cfg: GraspBenchConfig, cells: list[Cell], jobs: list[dict[str, Any]], wall_s: float,
              settings_extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The result JSON: per cell and method, final success (mean, std over seeds), curves, settings."""
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
    return {"benchmark": "grasp", "settings": {**asdict(cfg), **(settings_extra or {})},
            "complete": not failed and len(jobs) == len(cells) * len(cfg.seeds) * (
                1 + sum(m in ONLINE_METHODS for m in cfg.methods)),
            "jobs_done": len(jobs), "failed": failed, "wall_s": wall_s, "jobs_cpu_s": cpu_s, "results": results}


def _method_entry(cfg: GraspBenchConfig, cell: Cell, method: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    finals = [r["success"] for r in runs]
    entry: dict[str, Any] = {
        "success": float(np.mean(finals)), "success_std": float(np.std(finals)),
        "success_per_seed": finals, "seeds": [r["seed"] for r in runs],
        "settings": method_settings(cfg, cell, method),
    }
    if method == "bc":
        entry["curve"] = {"steps": [0], "success": [entry["success"]], "success_per_seed": [[f] for f in finals]}
        return entry
    explorer = [r["curve"]["explorer_success"] for r in runs]
    success, n = mean_curves(explorer)
    entry["curve"] = {
        "steps": [(i + 1) * cfg.eval_every for i in range(n)],
        "success": success,
        "success_per_seed": [c[:n] for c in explorer],
        "steps_per_seed": [r["curve"]["steps"][:n] for r in runs],
        "combined_success": mean_curves([r["curve"]["combined_success"] for r in runs])[0],
        "guide_steps_per_seed": [r["curve"]["guide_steps"][:n] for r in runs],
    }
    entry["runs"] = [{"seed": r["seed"], "h1": r["h1"], "bc_success_h1_rollouts": r["guide_success_h1_rollouts"],
                      **{k: r[k] for k in ("stages", "final_stage", "final_guide_step", "env_steps", "episodes", "updates",
                                           "wall_s", "cpu_s")}} for r in runs]
    return entry


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
              "eval_every": cfg.eval_every, "eval_episodes": cfg.eval_episodes}
    if method == "qtopt":
        return {**online, "guide": None, "demos_in_replay": True, "offline_updates": cfg.qtopt_offline_updates,
                "online_fraction": cfg.qtopt_online_fraction}
    return {**online, "guide": "bc", "demos_in_replay": False, "warm_start": False,
            "curriculum": {"mode": "random" if method == "jsrl_random" else "curriculum", "n_stages": cfg.stages,
                           "window": cfg.window, "tolerance": cfg.tolerance, "metric": "success_rate",
                           "h1": "estimated from the BC guide" if cfg.h1 is None else cfg.h1,
                           "h1_rollouts": cfg.h1_rollouts}}


def format_table(result: Mapping[str, Any]) -> str:
    """Final held-out success per cell and method: mean ± std over seeds, and the seeds' values."""
    lines = [f"{'task':<15}{'obs':<7}{'demos':>6}  {'method':<12}{'success':>8}{'± std':>8}  per seed"]
    for cell, method, entry, tail in table_rows(result, "success", "{:.2f}"):
        lines.append(f"{cell['task']:<15}{cell['obs']:<7}{cell['demos']:>6}  {method:<12}"
                     f"{entry['success']:>8.2f}{entry['success_std']:>8.2f}  {tail}")
    return "\n".join(lines)
