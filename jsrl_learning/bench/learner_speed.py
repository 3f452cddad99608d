"""QT-Opt update speed on the grasping env's spaces, with one torch thread.

    python -m jsrl_learning.bench.learner_speed --out results/learner_speed.json

Spaces: state (46-D float) and image (Dict of a 64x64x3 uint8 camera image and a 7-D
proprio vector), as ``jsrl/Grasp-v0`` gives them; action Box([-1, 1]^5). Each case
times ``update`` on pre-sampled batches (sampling excluded) and reports updates per
wall-clock second and per CPU second of this process: the CPU figure is the per-core rate
and stays meaningful on a busy machine, where wall-clock time also counts other
processes' turns. ``--variant NAME='{"target_cem": {...}}'`` adds QT-Opt configs to time.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from jsrl_learning.buffers import Batch, ReplayBuffer
from jsrl_learning.config import from_mapping
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner

SPACES = {
    "state": gym.spaces.Box(-1.0, 1.0, (46,), np.float32),
    "image": gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (64, 64, 3), np.uint8),
                              "proprio": gym.spaces.Box(-1.0, 1.0, (7,), np.float32)}),
}
ACTIONS = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
N_BATCHES = 4  # distinct batches cycled through, so no update sees the last one's data in cache


def random_batches(space: gym.Space, batch_size: int, seed: int) -> list[Batch]:
    """Batches sampled from a replay of random transitions (uint8 images stay uint8)."""
    buffer = ReplayBuffer.for_spaces(batch_size * N_BATCHES, space, ACTIONS)
    space.seed(seed)
    ACTIONS.seed(seed)
    for _ in range(buffer.capacity):
        buffer.add(space.sample(), ACTIONS.sample(), float(space.np_random.random() < 0.1), space.sample(), False)
    rng = np.random.default_rng(seed)
    return [buffer.sample(batch_size, rng) for _ in range(N_BATCHES)]


def time_updates(config: dict[str, Any], space: gym.Space, batch_size: int, seconds: float) -> dict[str, float]:
    learner = QTOptLearner(from_mapping(QTOptConfig, config, "variant"), space, ACTIONS)
    batches = random_batches(space, batch_size, seed=0)
    for batch in batches:  # warm-up: first-call allocations and kernel choices
        learner.update(batch)
    n, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while n < 5 or time.process_time() - cpu0 < seconds:
        learner.update(batches[n % N_BATCHES])
        n += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"updates": n, "updates_per_s_wall": n / wall, "updates_per_s_cpu": n / cpu}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds timed per case")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--obs", nargs="+", choices=sorted(SPACES), default=["state", "image"])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="a QT-Opt config (JSON mapping) to time besides the default")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    variants: dict[str, dict[str, Any]] = {"default": {}}
    for spec in args.variant:
        name, _, text = spec.partition("=")
        variants[name] = json.loads(text)
    torch.set_num_threads(1)
    results = []
    for name, config in variants.items():
        for obs in args.obs:
            for batch_size in args.batch_sizes:
                row = {"variant": name, "obs": obs, "batch_size": batch_size,
                       **time_updates(config, SPACES[obs], batch_size, args.seconds)}
                results.append(row)
                print(f"{name:>16} {obs:>5} batch {batch_size:>3}: {row['updates_per_s_cpu']:7.2f} updates/CPU-s "
                      f"{row['updates_per_s_wall']:7.2f} updates/wall-s", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor()
                or platform.machine(), "variants": variants, "seconds": args.seconds}
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
