"""Success rate of the scripted grasp guide (and of a random policy) on an object set.

    python -m jsrl_sim.grasping.eval_guide --object-set test --episodes 100 --out results/guide.json

Reports, per task, the success rate and the mean episode length of successful episodes:
JSRL's H1 (the guide's steps to success) for the curriculum.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from jsrl_sim.grasping.config import TASKS
from jsrl_sim.grasping.env import GraspEnv
from jsrl_sim.grasping.scripted_guide import ScriptedGraspGuide

POLICIES = ("scripted", "random")


def evaluate(env: GraspEnv, policy: str, episodes: int, seed: int, noise: float = 0.0) -> dict[str, float]:
    """Run ``episodes`` seeded episodes (seeds ``seed``, ``seed + 1``, ...) of ``policy``."""
    act, reset = _policy(env, policy, seed, noise)
    successes, lengths = 0, []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        reset()
        for t in range(1, env.config.max_steps + 1):
            obs, reward, terminated, truncated, info = env.step(act(obs))
            if terminated or truncated:
                break
        if info["success"]:
            successes += 1
            lengths.append(t)
    return {"episodes": episodes, "successes": successes, "success_rate": successes / episodes,
            "mean_steps_to_success": float(np.mean(lengths)) if lengths else float("nan")}


def _policy(env: GraspEnv, policy: str, seed: int, noise: float) -> tuple[Callable, Callable[[], None]]:
    if policy == "scripted":
        guide = ScriptedGraspGuide(env, noise=noise, seed=seed)
        return guide.act, guide.reset
    if policy == "random":
        rng = np.random.default_rng(seed)
        return (lambda obs: rng.uniform(-1.0, 1.0, size=5).astype(np.float32)), (lambda: None)
    raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object-set", default="test")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=10_000, help="first episode seed")
    parser.add_argument("--noise", type=float, default=0.0, help="scripted guide's action noise (std)")
    parser.add_argument("--out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"object_set": args.object_set, "seed": args.seed, "noise": args.noise}
    for task in TASKS:
        env = GraspEnv(task=task, object_set=args.object_set)
        for policy in POLICIES:
            r = evaluate(env, policy, args.episodes, args.seed, args.noise)
            results[f"{task}/{policy}"] = r
            print(f"{task:14s} {policy:8s} success {r['successes']}/{r['episodes']} = {r['success_rate']:.2f}, "
                  f"mean steps to success {r['mean_steps_to_success']:.1f}")
        env.close()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
