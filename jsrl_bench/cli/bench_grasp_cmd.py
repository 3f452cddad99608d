"""``jsrl bench grasp``: QT-Opt+JSRL against QT-Opt and BC on held-out objects (jsrl_bench/grasp/bench.py).

    jsrl bench grasp --quick --out results/grasp_quick.json
    jsrl bench grasp --config config/bench/grasp_50k.yaml --out results/grasp_50k.json
    jsrl bench grasp --quick --seeds 5 6 7 8 9 --out results/grasp_quick_more.json

Running it again on the same ``--out`` with the same settings (seeds and workers may differ) keeps
every finished job and runs only the missing ones; ``--fresh`` starts over.
"""
from __future__ import annotations

import argparse

from jsrl_bench.cli.bench_common import add_sweep_arguments, job_cost, open_sweep, print_result

HELP = "grasping: QT-Opt+JSRL vs QT-Opt and BC from few demos, success on held-out objects"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_sweep_arguments(p, "grasp", quick="state, indiscriminate, 20 demos, 3 seeds, a few thousand steps",
                        work="demos, BC guides and run checkpoints", plots="plots")


def run(args: argparse.Namespace) -> int:
    from jsrl_bench.grasp.bench import run_grasp_bench
    from jsrl_bench.grasp.config import load_bench_config
    from jsrl_bench.grasp.plot import plot_grasp_bench
    from jsrl_bench.grasp.report import format_table

    sweep = open_sweep(args, "grasp", load_bench_config)
    cfg = sweep.cfg
    print(f"grasp bench ({sweep.config_path}): tasks {cfg.tasks}, obs {cfg.obs}, demos {cfg.demos}, seeds {cfg.seeds}, "
          f"methods {cfg.methods}, {cfg.online_steps} online steps, {cfg.workers} workers", flush=True)

    def report(job: dict) -> None:
        what = "demos + BC" if job["job"] == "prepare" else job["method"]
        c = job["cell"]
        if job["job"] == "failed":
            print(f"  {c['task']}/{c['obs']}/{c['demos']} seed {job['seed']} {what:<12} FAILED: {job['error']}", flush=True)
            return
        combined = (f" (guide + explorer at final h {job['final_guide_step']}: {job['combined_success']:.2f})"
                    if job.get("final_guide_step") else "")
        print(f"  {c['task']}/{c['obs']}/{c['demos']} seed {job['seed']} {what:<12} success {job['success']:.2f}"
              f"{combined}  ({job_cost(job)})", flush=True)

    result = run_grasp_bench(cfg, sweep.out, sweep.work_dir, report, sweep.settings_extra, sweep.fresh,
                             sweep.merge)
    plots = plot_grasp_bench(result, sweep.out.with_suffix(""))
    print_result(result, sweep.out, format_table(result), f"plots: {', '.join(map(str, plots))}")
    return 0
