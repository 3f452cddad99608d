"""``jsrl demos NAME``: record demonstrations as a Minari dataset (one preset per world).

    jsrl demos grasp --episodes 20 --task indiscriminate --obs state --dataset-id jsrl/grasp/ind-state-20-v0

The dataset opens with ``minari.load_dataset(ID)`` (no network) under ``MINARI_DATASETS_PATH``
or ``--root``. Human demonstrations come through the ROS teleop path instead.
"""
from __future__ import annotations

import argparse

from jsrl_learning.cli.arg_types import non_negative_float, positive_int
from jsrl_learning.demos import GRASP_ENV_ID, GRASP_OBS, GRASP_TASKS, grasp_env_kwargs, grasp_scripted_guide, record_demos


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demos", help="record demonstrations as a Minari dataset",
                            description="Record guide demonstrations as a Minari dataset.")
    worlds = p.add_subparsers(dest="world", required=True, metavar="WORLD")
    g = worlds.add_parser("grasp", help="scripted grasps in jsrl/Grasp-v0 (privileged-state guide)",
                          description="Scripted grasps in jsrl/Grasp-v0; only successful episodes are kept "
                                      "unless --keep-failures.")
    g.add_argument("--episodes", type=positive_int, required=True, help="demonstrations to keep (e.g. 20, 200, 2000)")
    g.add_argument("--task", choices=GRASP_TASKS, default="indiscriminate")
    g.add_argument("--obs", choices=GRASP_OBS, default="state", help="observation mode stored in the dataset")
    g.add_argument("--object-set", default="train", help="objects to grasp (default: train; test is held out)")
    g.add_argument("--dataset-id", required=True, help="Minari id, e.g. jsrl/grasp/indiscriminate-state-20-v0")
    g.add_argument("--root", help="Minari datasets directory (default: MINARI_DATASETS_PATH or ~/.minari/datasets)")
    g.add_argument("--seed", type=int, default=0, help="reset seed of the first attempt (attempt i: seed + i)")
    g.add_argument("--noise", type=non_negative_float, default=0.0, help="Gaussian action noise of the scripted guide")
    g.add_argument("--keep-failures", action="store_true", help="keep unsuccessful episodes too")
    g.set_defaults(run=_run_grasp)


def _run_grasp(args: argparse.Namespace) -> int:
    record = record_demos(GRASP_ENV_ID, grasp_env_kwargs(args.task, args.obs, args.object_set),
                          grasp_scripted_guide(args.noise, seed=args.seed), args.episodes, args.dataset_id,
                          seed=args.seed, successful_only=not args.keep_failures, root=args.root)
    print(f"{record.episodes} episodes ({record.transitions} transitions) from {record.attempts} attempts "
          f"(guide success {record.guide_success_rate:.2f})\ndataset {record.dataset_id}: {record.path}")
    return 0
