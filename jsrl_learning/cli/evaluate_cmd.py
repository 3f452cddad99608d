"""``jsrl evaluate``: score a checkpoint's greedy explorer, alone or behind its guide."""
from __future__ import annotations

import argparse

import gymnasium as gym

import jsrl_learning.envs  # noqa: F401  (registers the core's gymnasium envs)
from jsrl_learning.checkpoint import CheckpointError, load_checkpoint
from jsrl_learning.cli.arg_types import non_negative_int, positive_int
from jsrl_learning.config import from_mapping, in_current_names
from jsrl_learning.guides import make_guide
from jsrl_learning.guides.policy_checkpoint import learner_from_policy_state
from jsrl_learning.rollout import evaluate
from jsrl_learning.trainer import TrainConfig


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("evaluate", help="evaluate a training checkpoint",
                            description="Evaluate the greedy explorer of a `jsrl train` checkpoint on the env "
                                        "its config names.")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt written by jsrl train")
    p.add_argument("--episodes", type=positive_int, default=20, help="evaluation episodes (default 20)")
    p.add_argument("--guide-steps", type=non_negative_int, default=0,
                   help="let the run's guide act for the first H steps (default 0: explorer alone)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first evaluation episode")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    state = load_checkpoint(args.checkpoint)
    if "config" not in state or "policy" not in state:
        raise CheckpointError(f"{args.checkpoint}: not a jsrl train checkpoint (needs 'config' and 'policy'); "
                              f"keys: {', '.join(sorted(state))}")
    config = from_mapping(TrainConfig, in_current_names(TrainConfig, state["config"]), f"{args.checkpoint}: config")
    env = gym.make(config.env_id, **config.env_kwargs)
    learner = learner_from_policy_state(state["policy"], args.checkpoint)
    guide = make_guide(config.guide, env, f"{args.checkpoint}: config.guide")
    result = evaluate(env, guide, lambda obs: learner.act(obs, explore=False), args.guide_steps, args.episodes,
                      seed=args.seed, max_steps=config.max_episode_steps)
    who = "explorer alone" if args.guide_steps == 0 else f"guide for {args.guide_steps} steps, then explorer"
    print(f"{config.env_id}, {who}, {args.episodes} episodes: success rate {result.success_rate:.3f}, "
          f"mean return {result.mean_return:.3f}, mean length {result.mean_length:.1f}")
    return 0
