"""``jsrl``: the installed command. The core's ``train``/``evaluate`` and the experiments'
``bench``, ``demos`` and ``datasets``, no ROS needed (``jsrl bench ros|fuzz`` import it when they run).

    jsrl train --config config/train/lock_train.yaml --out runs/lock
    jsrl evaluate --checkpoint runs/lock/checkpoint.pt --episodes 20
    jsrl bench lock --quick --out results/lock_quick.json
    jsrl demos grasp --episodes 20 --dataset-id jsrl/grasp/ind-state-20-v0
"""
from __future__ import annotations

import sys

from jsrl_bench.cli import bench_cmd, datasets_cmd, demos_cmd
from jsrl_learning.cli import main as core

COMMANDS = (*core.COMMANDS, bench_cmd, demos_cmd, datasets_cmd)


def main(argv: list[str] | None = None) -> int:
    parser = core.build_parser(COMMANDS, "Jump-Start RL: train, evaluate, benchmark, record demos and datasets.")
    return core.run_command_line(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
