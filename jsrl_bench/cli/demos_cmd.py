"""``jsrl demos NAME``: record demonstrations as a Minari dataset (one preset per world), and
clone a guide from them.

    jsrl demos grasp --episodes 20 --task indiscriminate --obs state --dataset-id jsrl/grasp/ind-state-20-v0
    jsrl demos train-bc jsrl/grasp/ind-state-20-v0 --out runs/bc_guide.pt

The dataset opens with ``minari.load_dataset(ID)`` (no network) under ``MINARI_DATASETS_PATH``
or ``--root``. Human demonstrations come through the ROS teleop path instead (record_demos,
then ``python -m jsrl_ros.recording.bags_to_minari``); ``train-bc`` turns either kind into the saved BC
guide that the graphs' ``guide:=bc bc_path:=FILE`` runs (docs/human_guide.md).
"""
from __future__ import annotations

import argparse

import minari
from jsrl_sim.grasping.config import OBS_MODES, TASKS

from jsrl_bench.demos import minari_root, record_demos
from jsrl_bench.grasp.world import GRASP_ENV_ID, grasp_env_kwargs, grasp_scripted_guide
from jsrl_learning.cli.arg_types import non_negative_float, positive_int
from jsrl_learning.datasets import DatasetError, load_minari, locate_dataset
from jsrl_learning.guides import BCConfig, BCGuide


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demos", help="record demonstrations as a Minari dataset",
                            description="Record guide demonstrations as a Minari dataset.")
    worlds = p.add_subparsers(dest="world", required=True, metavar="WORLD")
    g = worlds.add_parser("grasp", help="scripted grasps in jsrl/Grasp-v0 (privileged-state guide)",
                          description="Scripted grasps in jsrl/Grasp-v0; only successful episodes are kept "
                                      "unless --keep-failures.")
    g.add_argument("--episodes", type=positive_int, required=True, help="demonstrations to keep (e.g. 20, 200, 2000)")
    g.add_argument("--task", choices=TASKS, default="indiscriminate")
    g.add_argument("--obs", choices=OBS_MODES, default="state", help="observation mode stored in the dataset")
    g.add_argument("--object-set", default="train", help="objects to grasp (default: train; test is held out)")
    g.add_argument("--dataset-id", required=True, help="Minari id, e.g. jsrl/grasp/indiscriminate-state-20-v0")
    g.add_argument("--root", help="Minari datasets directory (default: MINARI_DATASETS_PATH or ~/.minari/datasets)")
    g.add_argument("--seed", type=int, default=0, help="reset seed of the first attempt (attempt i: seed + i)")
    g.add_argument("--noise", type=non_negative_float, default=0.0, help="Gaussian action noise of the scripted guide")
    g.add_argument("--keep-failures", action="store_true", help="keep unsuccessful episodes too")
    g.set_defaults(run=_run_grasp)
    defaults = BCConfig()
    b = worlds.add_parser("train-bc", help="behaviour cloning on a Minari dataset, saved as a BC guide",
                          description="Fit a BC guide to every transition of a Minari dataset (e.g. human demos "
                                      "from python -m jsrl_ros.recording.bags_to_minari) and save it for guide:=bc "
                                      "bc_path:=FILE.")
    b.add_argument("dataset", help="Minari dataset id or directory")
    b.add_argument("--out", required=True, help="where to save the BC guide, e.g. runs/demos/bc_guide.pt")
    b.add_argument("--root", help="Minari datasets directory (default: MINARI_DATASETS_PATH or ~/.minari/datasets)")
    b.add_argument("--updates", type=positive_int, default=defaults.n_updates,
                   help=f"gradient steps (default {defaults.n_updates})")
    b.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    b.add_argument("--seed", type=int, default=defaults.seed)
    b.set_defaults(run=_run_train_bc)


def _run_grasp(args: argparse.Namespace) -> int:
    record = record_demos(GRASP_ENV_ID, grasp_env_kwargs(args.task, args.obs, args.object_set),
                          grasp_scripted_guide(args.noise, seed=args.seed), args.episodes, args.dataset_id,
                          seed=args.seed, successful_only=not args.keep_failures, root=args.root)
    print(f"{record.episodes} episodes ({record.transitions} transitions) from {record.attempts} attempts "
          f"(guide success {record.guide_success_rate:.2f})\ndataset {record.dataset_id}: {record.path}")
    return 0


def _run_train_bc(args: argparse.Namespace) -> int:
    with minari_root(args.root):
        kind, data_dir = locate_dataset(args.dataset)
        if kind != "minari":  # the policy's action bounds come from the dataset's action space
            raise DatasetError(f"{args.dataset}: train-bc takes a Minari dataset, not a .npz file")
        action_space = minari.MinariDataset(data_dir).action_space
        data = load_minari(args.dataset)
    config = BCConfig(n_updates=args.updates, batch_size=args.batch_size, seed=args.seed)
    guide = BCGuide.train(data, config, action_space)
    guide.save(args.out)
    print(f"{len(data)} transitions, observations {guide.observation_space}; loss {guide.losses[0]:.4f} -> "
          f"{guide.losses[-1]:.4f} after {config.n_updates} updates\nBC guide: {args.out}")
    return 0
