"""Grasping env speed: env steps per second on one core, state and image observations.

    python -m jsrl_sim.bench_speed --out results/grasp_speed.json

The policy moves the open gripper at random (it never closes, so every episode runs its
full ``max_steps``); each configuration reports the rate of ``env.step`` alone and of
whole episodes including ``reset``, both per wall-clock second and per CPU second of this
process. The CPU figure is the per-core rate and stays meaningful on a busy machine,
where wall-clock time also counts other processes' turns.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from jsrl_sim.grasping.env import GraspEnv

CONFIGS = {
    "state": {"obs_mode": "state"},
    "image64": {"obs_mode": "image", "image_size": 64},
}


def bench(overrides: dict[str, Any], steps: int, seed: int) -> dict[str, float]:
    """Run ``steps`` env steps in full episodes; rates of step() alone and with resets."""
    env = GraspEnv(object_set="train", **overrides)
    rng = np.random.default_rng(seed)
    step_wall = step_cpu = 0.0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    done, episode, count = True, 0, 0
    while count < steps:
        if done:
            env.reset(seed=seed + episode)
            episode += 1
        action = np.append(rng.uniform(-1.0, 1.0, size=4), -1.0).astype(np.float32)
        w, c = time.perf_counter(), time.process_time()
        _, _, terminated, truncated, _ = env.step(action)
        step_wall += time.perf_counter() - w
        step_cpu += time.process_time() - c
        done, count = terminated or truncated, count + 1
    total_wall, total_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    env.close()
    return {"steps": count, "episodes": episode,
            "step_per_s_wall": count / step_wall, "step_per_s_cpu": count / step_cpu,
            "with_reset_per_s_wall": count / total_wall, "with_reset_per_s_cpu": count / total_cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--steps", type=int, default=1500, help="env steps per configuration")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"command": " ".join(["python -m jsrl_sim.bench_speed", *(argv or sys.argv[1:])]),
                               "machine": platform.platform(), "python": platform.python_version()}
    for name, overrides in CONFIGS.items():
        results[name] = bench(overrides, args.steps, args.seed)
        r = results[name]
        print(f"{name:8s} step(): {r['step_per_s_wall']:6.1f}/s wall {r['step_per_s_cpu']:6.1f}/s cpu | "
              f"with resets: {r['with_reset_per_s_wall']:6.1f}/s wall {r['with_reset_per_s_cpu']:6.1f}/s cpu")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
