"""``jsrl bench antmaze``: IQL+JSRL vs IQL fine-tuning on locally generated AntMaze datasets.

    jsrl bench antmaze --quick --out results/antmaze_quick.json

Settings come from ``config/antmaze_{quick,full}.yaml`` (or ``--config``); the JSON is rewritten
after every finished job and the plot is written beside it (.png) at the end.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from jsrl_learning.config import ConfigError

HELP = "AntMaze: IQL+JSRL (curriculum, random) vs IQL fine-tuning from small offline datasets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="config/antmaze_quick.yaml (umaze, 10k transitions, 3 seeds, short pre-training/fine-tuning)")
    p.add_argument("--config", help="bench YAML (default: config/antmaze_full.yaml, or antmaze_quick.yaml with --quick)")
    p.add_argument("--out", required=True, help="result JSON, rewritten after every finished job; plot beside it")
    p.add_argument("--workers", type=int, help="worker processes, one torch thread each (overrides the config)")
    p.add_argument("--work-dir", help="datasets, guides and run checkpoints (default: <out without .json>_work)")


def run(args: argparse.Namespace) -> int:
    from jsrl_learning.bench.antmaze import format_table, load_bench_config, run_antmaze_bench
    from jsrl_learning.bench.antmaze_plot import plot_antmaze_bench
    from jsrl_learning.bench.common import default_config_path

    out = Path(args.out)
    if out.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {out}")
    config_path = Path(args.config) if args.config else default_config_path(
        f"antmaze_{'quick' if args.quick else 'full'}.yaml")
    cfg = load_bench_config(config_path)
    if args.workers is not None:
        cfg.workers = args.workers
        cfg.validate(f"{config_path} with --workers")
    out.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(args.work_dir) if args.work_dir else out.with_name(out.stem + "_work")
    print(f"antmaze bench ({config_path}): mazes {cfg.mazes}, datasets {cfg.dataset_sizes}, seeds {cfg.seeds}, "
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
        print(f"  {c['maze']}/{c['dataset_size']} {what}  ({job['wall_s']:.0f} s)", flush=True)

    result = run_antmaze_bench(cfg, out, work_dir, report, {"config_file": str(config_path)})
    plot = plot_antmaze_bench(result, out.with_suffix(".png"))
    print(format_table(result))
    print(f"wall clock {result['wall_s']:.0f} s, jobs' CPU {result['jobs_cpu_s']:.0f} s\nresults: {out}\nplot: {plot}")
    return 0
