"""``jsrl datasets NAME``: generate offline datasets locally as Minari datasets (one world each).

    jsrl datasets antmaze --maze umaze --transitions 10000 --noise 0.2 --dataset-id jsrl/antmaze/umaze-10k-v0

The dataset opens with ``minari.load_dataset(ID)`` (no network) under ``MINARI_DATASETS_PATH``
or ``--root``. ``--summary FILE.json`` records what was generated and how long it took.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from jsrl_learning.cli.arg_types import non_negative_float, positive_int
from jsrl_sim.antmaze.maze import MAZES


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("datasets", help="generate offline datasets as Minari datasets",
                            description="Generate offline datasets locally, saved as Minari datasets.")
    worlds = p.add_subparsers(dest="world", required=True, metavar="WORLD")
    a = worlds.add_parser("antmaze", help="the scripted AntMaze guide with Gaussian torque noise",
                          description="Transitions of jsrl/AntMaze-v0 walked by the scripted guide with Gaussian "
                                      "torque noise, from the task's start to its goal; exactly --transitions steps.")
    a.add_argument("--maze", choices=tuple(MAZES), default="umaze")
    a.add_argument("--transitions", type=positive_int, required=True, help="transitions to store (e.g. 1000, 10000)")
    a.add_argument("--noise", type=non_negative_float, default=0.2, help="std of the Gaussian torque noise (default 0.2)")
    a.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i; also seeds the noise")
    a.add_argument("--dataset-id", help="Minari id (default: jsrl/antmaze/<maze>-<N>-noise<std>-seed<seed>-v0)")
    a.add_argument("--root", help="Minari datasets directory (default: MINARI_DATASETS_PATH or ~/.minari/datasets)")
    a.add_argument("--summary", help="also write what was generated (counts, wall-clock time) to this JSON file")
    a.set_defaults(run=_run_antmaze)


def _run_antmaze(args: argparse.Namespace) -> int:
    from jsrl_bench.antmaze.datasets import default_dataset_id, generate_antmaze_dataset  # mujoco: only now

    dataset_id = args.dataset_id or default_dataset_id(args.maze, args.transitions, args.noise, args.seed)
    record = generate_antmaze_dataset(args.maze, args.transitions, args.noise, dataset_id, args.seed, args.root)
    print(f"{record.transitions} transitions in {record.episodes} episodes ({record.successes} reach the goal) "
          f"in {record.wall_s:.1f} s\ndataset {record.dataset_id}: {record.path}")
    if args.summary:
        Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary).write_text(json.dumps(record.to_json(), indent=1) + "\n")
    return 0
