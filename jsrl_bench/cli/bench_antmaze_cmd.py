"""``jsrl bench antmaze``: IQL+JSRL vs IQL fine-tuning on locally generated AntMaze datasets.

    jsrl bench antmaze --quick --out results/antmaze_quick.json

Settings come from ``config/bench/antmaze_{quick,full}.yaml`` (or ``--config``; ``--seeds`` and
``--workers`` override theirs); the JSON is rewritten after every finished job and the plot is
written beside it (.png) at the end. Running it again on the same ``--out`` with the same settings
keeps every finished job and runs only the missing ones; ``--fresh`` starts over.
"""
from __future__ import annotations

import argparse

from jsrl_bench.cli.bench_common import add_sweep_arguments, job_cost, open_sweep, print_result

HELP = "AntMaze: IQL+JSRL (curriculum, random) vs IQL fine-tuning from small offline datasets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_sweep_arguments(p, "antmaze", quick="umaze, 10k transitions, 3 seeds, short pre-training/fine-tuning",
                        work="datasets, guides and run checkpoints", plots="plot")


def run(args: argparse.Namespace) -> int:
    from jsrl_bench.antmaze.bench import format_table, load_bench_config, run_antmaze_bench
    from jsrl_bench.antmaze.plot import plot_antmaze_bench

    sweep = open_sweep(args, "antmaze", load_bench_config)
    cfg = sweep.cfg
    print(f"antmaze bench ({sweep.config_path}): mazes {cfg.mazes}, datasets {cfg.dataset_sizes}, seeds {cfg.seeds}, "
          f"methods {cfg.methods}, {cfg.offline_updates} offline updates, {cfg.online_steps} online steps, "
          f"{cfg.workers} workers", flush=True)

    def report(job: dict) -> None:
        c = job["cell"]
        if job["job"] == "failed":
            seed = f" seed {job['seed']}" if "seed" in job else ""
            print(f"  {c['maze']}/{c['dataset_size']} {job['method']}{seed} FAILED: {job['error']}", flush=True)
            return
        if job["job"] == "dataset":
            what = f"dataset: {job['episodes']} episodes, {job['successes']} reach the goal"
        else:
            what = f"{job.get('method', 'iql_offline'):<12} seed {job['seed']} score {100 * job['success']:.0f}"
            if job.get("final_guide_step"):
                what += f" (guide + explorer at final h {job['final_guide_step']}: {100 * job['combined_success']:.0f})"
        print(f"  {c['maze']}/{c['dataset_size']} {what}  ({job_cost(job)})", flush=True)

    result = run_antmaze_bench(cfg, sweep.out, sweep.work_dir, report, sweep.settings_extra, sweep.fresh,
                               sweep.merge)
    plot = plot_antmaze_bench(result, sweep.out.with_suffix(".png"))
    print_result(result, sweep.out, format_table(result), f"plot: {plot}")
    return 0
