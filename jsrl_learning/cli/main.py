"""``jsrl``: train, evaluate and benchmark JSRL from the command line, no ROS needed.

    jsrl train --config config/lock_train.yaml --out runs/lock
    jsrl evaluate --checkpoint runs/lock/checkpoint.pt --episodes 20
    jsrl bench lock --quick --out results/lock_quick.json

A user's mistake (bad config key or value, missing file, damaged checkpoint) prints one
line naming the problem and exits with status 2; anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import argparse
import sys

from jsrl_learning.checkpoint import CheckpointError
from jsrl_learning.cli import bench_cmd, datasets_cmd, demos_cmd, evaluate_cmd, train_cmd
from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import DatasetError

USER_ERRORS = (ConfigError, CheckpointError, DatasetError, FileNotFoundError)
EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jsrl", description="Jump-Start RL: train, evaluate, benchmark.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train_cmd, evaluate_cmd, bench_cmd, demos_cmd, datasets_cmd):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error (or --help)
        return int(exc.code or 0)
    try:
        return args.run(args)
    except USER_ERRORS as exc:
        print(f"jsrl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
