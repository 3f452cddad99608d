"""Ablation of what makes QT-Opt learn the grasp: each change switched off alone, the rest on.

    jsrl bench grasp-ablation --config config/bench/grasp_ablation.yaml --out results/grasp_ablation.json

The YAML holds ``base``, a grasp bench config (``grasp_config.py``) with every change on, and
``variants``, each a partial config merged into the base (mappings merged key by key). Every
variant runs as its own grasp sweep (``<out>_variants/<name>.json``, resumable like any sweep)
over the same seeds, demos and evaluation episodes, and the ablation table compares each
method's held-out success, steps to 0.5 / 0.8 and episode length at the budget.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from jsrl_bench.grasp.bench import run_grasp_bench
from jsrl_bench.grasp.config import GraspBenchConfig
from jsrl_bench.sweep.common import write_json_atomic
from jsrl_learning.config import ConfigError, from_mapping, read_yaml


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; nested mappings are merged, everything else replaced."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
    return out


def load_ablation(path: str | Path) -> dict[str, GraspBenchConfig]:
    """Every variant's full sweep config, by name; the base first (as ``all_on``)."""
    data = read_yaml(path)
    if set(data) != {"base", "variants"} or not isinstance(data["variants"], Mapping):
        raise ConfigError(f"{path}: an ablation needs exactly the keys 'base' (a grasp bench config) and "
                          f"'variants' (name -> overrides), got {sorted(data)}")
    configs = {"all_on": from_mapping(GraspBenchConfig, data["base"], f"{path}: base")}
    for name, overrides in data["variants"].items():
        configs[name] = from_mapping(GraspBenchConfig, merged(data["base"], overrides), f"{path}: variants.{name}")
    for name, cfg in configs.items():
        cfg.validate(f"{path}: {name}")
        if len(cfg.tasks) * len(cfg.obs) * len(cfg.demos) != 1:
            raise ConfigError(f"{path}: {name}: an ablation compares one cell (one task, obs and demo count), "
                              f"got tasks {cfg.tasks}, obs {cfg.obs}, demos {cfg.demos}")
    return configs


def run_grasp_ablation(path: str | Path, out: Path, work_dir: Path,
                       report: Callable[[str, dict[str, Any]], None] = lambda name, job: None) -> dict[str, Any]:
    """Run every variant's sweep and write the ablation table to ``out`` after each variant."""
    configs = load_ablation(path)
    sweeps = out.with_name(out.stem + "_variants")
    sweeps.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Any] = {}
    for name, cfg in configs.items():
        result = run_grasp_bench(cfg, sweeps / f"{name}.json", work_dir / name, lambda job: report(name, job),
                                 {"config_file": str(path), "variant": name})
        rows[name] = _row(result)
        write_json_atomic(out, {"benchmark": "grasp_ablation", "config_file": str(path), "variants": rows})
    return {"benchmark": "grasp_ablation", "config_file": str(path), "variants": rows}


def _row(result: Mapping[str, Any]) -> dict[str, Any]:
    """Per method of the (single) cell: success at the budget, steps to 0.5 / 0.8, episode length."""
    cell = result["results"][0]
    row = {}
    for method, entry in cell["methods"].items():
        runs = entry.get("runs") or []
        lengths = [r["mean_length"] for r in runs if r.get("mean_length") is not None]
        row[method] = {"success": entry["success"], "success_std": entry["success_std"],
                       "success_per_seed": entry["success_per_seed"],
                       "steps_to_0.5": entry.get("steps_to_0.5"), "steps_to_0.8": entry.get("steps_to_0.8"),
                       "mean_length": float(np.mean(lengths)) if lengths else None,
                       "combined_success": entry.get("combined_success"),
                       "final_guide_step_per_seed": entry.get("final_guide_step_per_seed")}
    return row


def format_ablation(result: Mapping[str, Any]) -> str:
    """One line per variant and method."""
    lines = [f"{'variant':<20} {'method':<12} {'success':>8} {'± std':>6}  {'to 0.5':>7} {'to 0.8':>7} "
             f"{'length':>6}  per seed  (final h)"]
    for name, row in result["variants"].items():
        for method, r in row.items():
            steps = [("-" if r[k] is None else str(r[k])) for k in ("steps_to_0.5", "steps_to_0.8")]
            length = "-" if r["mean_length"] is None else f"{r['mean_length']:.1f}"
            lines.append(f"{name:<20} {method:<12} {r['success']:>8.2f} {r['success_std']:>6.2f}  {steps[0]:>7} "
                         f"{steps[1]:>7} {length:>6}  {' '.join(f'{v:.2f}' for v in r['success_per_seed'])}"
                         + (f"  (h {r['final_guide_step_per_seed']})" if r["final_guide_step_per_seed"] else ""))
    return "\n".join(lines)
