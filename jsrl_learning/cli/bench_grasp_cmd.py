"""``jsrl bench grasp``: QT-Opt+JSRL against QT-Opt and BC on held-out objects (jsrl_learning/bench/grasp.py).

    jsrl bench grasp --quick --out results/grasp_quick.json
    jsrl bench grasp --config config/grasp_long.yaml --out results/grasp_long.json
"""
from __future__ import annotations

import argparse
from pathlib import Path

from jsrl_learning.config import ConfigError

HELP = "grasping: QT-Opt+JSRL vs QT-Opt and BC from few demos, success on held-out objects"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="config/grasp_quick.yaml (state, indiscriminate, 20 demos, 3 seeds, a few thousand steps)")
    p.add_argument("--config", help="bench YAML (default: config/grasp_full.yaml, or grasp_quick.yaml with --quick)")
    p.add_argument("--out", required=True, help="result JSON, rewritten after every finished job; plots beside it")
    p.add_argument("--workers", type=int, help="worker processes, one torch thread each (overrides the config)")
    p.add_argument("--work-dir", help="demos, BC guides and run checkpoints (default: <out without .json>_work)")


def run(args: argparse.Namespace) -> int:
    from jsrl_learning.bench.grasp import run_grasp_bench
    from jsrl_learning.bench.common import default_config_path
    from jsrl_learning.bench.grasp_config import load_bench_config
    from jsrl_learning.bench.grasp_report import format_table
    from jsrl_learning.bench.grasp_plot import plot_grasp_bench

    out = Path(args.out)
    if out.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {out}")
    config_path = Path(args.config) if args.config else default_config_path(f"grasp_{'quick' if args.quick else 'full'}.yaml")
    cfg = load_bench_config(config_path)
    if args.workers is not None:
        cfg.workers = args.workers
        cfg.validate(f"{config_path} with --workers")
    out.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(args.work_dir) if args.work_dir else out.with_name(out.stem + "_work")
    print(f"grasp bench ({config_path}): tasks {cfg.tasks}, obs {cfg.obs}, demos {cfg.demos}, seeds {cfg.seeds}, "
          f"methods {cfg.methods}, {cfg.online_steps} online steps, {cfg.workers} workers", flush=True)

    def report(job: dict) -> None:
        what = "demos + BC" if job["job"] == "prepare" else job["method"]
        c = job["cell"]
        if job["job"] == "failed":
            print(f"  {c['task']}/{c['obs']}/{c['demos']} seed {job['seed']} {what:<12} FAILED: {job['error']}", flush=True)
            return
        print(f"  {c['task']}/{c['obs']}/{c['demos']} seed {job['seed']} {what:<12} success {job['success']:.2f}  "
              f"({job['wall_s']:.0f} s, {job['cpu_s']:.0f} CPU s)", flush=True)

    result = run_grasp_bench(cfg, out, work_dir, report, {"config_file": str(config_path)})
    plots = plot_grasp_bench(result, out.with_suffix(""))
    print(format_table(result))
    print(f"wall clock {result['wall_s']:.0f} s, jobs' CPU {result['jobs_cpu_s']:.0f} s\nresults: {out}\n"
          f"plots: {', '.join(map(str, plots))}")
    return 0
