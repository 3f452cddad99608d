"""``jsrl train`` / ``jsrl evaluate``: the core's commands, and how a ``jsrl`` command line is run.

    jsrl train --config config/train/lock_train.yaml --out runs/lock
    jsrl evaluate --checkpoint runs/lock/checkpoint.pt --episodes 20

The installed ``jsrl`` command is built by the experiments layer on top, which adds its commands
(``bench``, ``demos``, ``datasets``) to these ``COMMANDS``; ``python -m jsrl_learning.cli.main``
is the core alone. A user's mistake (bad config key or value, missing file, damaged
checkpoint) prints one line naming the problem and exits with status 2; anything else is a bug
and keeps its traceback.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Sequence

from jsrl_learning.checkpoint import CheckpointError
from jsrl_learning.cli import evaluate_cmd, train_cmd
from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import DatasetError

#: modules with ``add_parser(commands)``; each sub-command sets ``run(args) -> exit status``
COMMANDS: tuple[ModuleType, ...] = (train_cmd, evaluate_cmd)
USER_ERRORS = (ConfigError, CheckpointError, DatasetError, FileNotFoundError)
EXIT_USER_ERROR = 2


def build_parser(commands: Sequence[ModuleType] = COMMANDS,
                 description: str = "Jump-Start RL: train and evaluate.") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jsrl", description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in commands:
        module.add_parser(subparsers)
    return parser


def run_command_line(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse ``argv`` and run the chosen command; its exit status, 2 for a user's mistake."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error (or --help)
        return int(exc.code or 0)
    try:
        return args.run(args)
    except USER_ERRORS as exc:
        print(f"jsrl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def main(argv: list[str] | None = None) -> int:
    return run_command_line(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
