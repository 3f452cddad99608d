"""``jsrl bench NAME``: benchmarks, one sub-command each, registered in ``BENCHES``.

A new benchmark adds a ``(help, add_arguments, run)`` entry; ``run`` returns the exit status.
The ROS layer's benchmarks (``ros``, ``fuzz``) import rclpy only inside ``run``, so ``jsrl`` and
every other benchmark start without ROS.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable, NamedTuple

from jsrl_bench.cli import bench_antmaze_cmd, bench_grasp_cmd, bench_learner_cmd
from jsrl_bench.cli.bench_common import json_out
from jsrl_bench.fleet import bench as fleet_bench
from jsrl_bench.fuzz import bench as fuzz_bench
from jsrl_bench.ros import bench as ros_bench


class Bench(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _lock_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sweep (H <= 32, 3 seeds, budget 20k episodes)")
    p.add_argument("--out", required=True, help="result JSON; the plot is written beside it as .png")


def _run_lock(args: argparse.Namespace) -> int:
    from jsrl_bench.lock.bench import FULL, QUICK, format_table, run_lock_bench
    from jsrl_bench.lock.plot import plot_lock_bench

    out = json_out(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = QUICK if args.quick else FULL
    print(f"combination lock: H {cfg.horizons}, seeds {cfg.seeds}, budget {cfg.budget_episodes} episodes",
          flush=True)

    def report(r) -> None:
        episodes = f">{cfg.budget_episodes}" if r.episodes is None else str(r.episodes)
        print(f"  {r.method:<20} H={r.H:<4} seed={r.seed}  episodes {episodes:>8}  ({r.wall_s:.1f} s)", flush=True)

    started = time.perf_counter()
    result = run_lock_bench(cfg, report)
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    plot = plot_lock_bench(result, out.with_suffix(".png"))
    print(format_table(result))
    print(f"wall clock {time.perf_counter() - started:.0f} s\nresults: {out}\nplot: {plot}")
    return 0


def _argmax_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a QT-Opt run's checkpoint.pt (jsrl train, or a bench run's)")
    p.add_argument("--states", type=int, default=1024, help="replayed next states to search (default 1024)")
    p.add_argument("--out", required=True, help="result JSON")


def _run_argmax(args: argparse.Namespace) -> int:
    from jsrl_bench.learner.argmax_bias import measure_argmax_bias

    out = json_out(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = measure_argmax_bias(args.checkpoint, args.states)
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(f"max_a Q'(s', a) over {result['n_states']} next states; strong search mean {result['strong_mean_value']:.4f}")
    for name, row in result["searches"].items():
        print(f"  {name:<12} shortfall mean {row['mean_shortfall']:.4f}  p90 {row['p90_shortfall']:.4f}  "
              f"max {row['max_shortfall']:.4f}  ({row['ms_per_state']:.3f} ms/state)")
    print(f"results: {out}")
    return 0


def _ablation_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="ablation YAML: base + variants (default: config/bench/grasp_ablation.yaml)")
    p.add_argument("--out", required=True, help="ablation table JSON; each variant's sweep in <out>_variants/")
    p.add_argument("--work-dir", help="demos, BC guides and run checkpoints (default: <out without .json>_work)")


def _run_ablation(args: argparse.Namespace) -> int:
    from jsrl_bench.grasp.ablation import format_ablation, run_grasp_ablation
    from jsrl_bench.sweep.common import default_config_path

    out = json_out(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(args.work_dir) if args.work_dir else out.with_name(out.stem + "_work")
    started = time.perf_counter()

    def report(variant: str, job: dict) -> None:
        what = "demos + BC" if job["job"] == "prepare" else job.get("method", job["job"])
        score = f"success {job['success']:.2f}" if "success" in job else f"FAILED: {job.get('error')}"
        print(f"  {variant:<22} seed {job['seed']} {what:<12} {score}", flush=True)

    result = run_grasp_ablation(args.config or default_config_path("grasp_ablation.yaml"), out, work, report)
    print(format_ablation(result))
    print(f"wall clock {time.perf_counter() - started:.0f} s\nresults: {out}")
    return 0


BENCHES: dict[str, Bench] = {
    "lock": Bench("combination lock: episodes to solve vs horizon, JSRL vs ε-greedy (Theorem 4.1)",
                  _lock_arguments, _run_lock),
    "grasp": Bench(bench_grasp_cmd.HELP, bench_grasp_cmd.add_arguments, bench_grasp_cmd.run),
    "antmaze": Bench(bench_antmaze_cmd.HELP, bench_antmaze_cmd.add_arguments, bench_antmaze_cmd.run),
    "learner": Bench(bench_learner_cmd.HELP, bench_learner_cmd.add_arguments, bench_learner_cmd.run),
    "grasp-ablation": Bench("grasping ablations: one change per variant of a base sweep "
                            "(config/bench/grasp_ablation.yaml, grasp_curriculum.yaml)", _ablation_arguments, _run_ablation),
    "argmax": Bench("QT-Opt's target argmax: how far cheap CEM searches fall short of a strong one",
                    _argmax_arguments, _run_argmax),
    "ros": Bench(ros_bench.HELP, ros_bench.add_arguments, ros_bench.run),
    "fuzz": Bench(fuzz_bench.HELP, fuzz_bench.add_arguments, fuzz_bench.run),
    "fleet": Bench(fleet_bench.HELP, fleet_bench.add_arguments, fleet_bench.run),
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("bench", help="run a benchmark", description="Run one of the benchmarks.")
    benches = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name, bench in BENCHES.items():
        sub = benches.add_parser(name, help=bench.help, description=bench.help)
        bench.add_arguments(sub)
        sub.set_defaults(run=bench.run)
