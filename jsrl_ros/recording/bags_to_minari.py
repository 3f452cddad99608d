"""Folder of episode bags -> Minari dataset, the learner's offline-data format.

    python -m jsrl_ros.recording.bags_to_minari BAG_DIR DATASET_ID [--successful-only] [--skip-evaluation]

Written under MINARI_DATASETS_PATH; ``jsrl_learning.datasets.load_minari(DATASET_ID)`` (or
``jsrl train`` with it as offline data) reads it back as transitions. Spaces come from the
recorded data: vectors are unbounded float32 Boxes, images (S, S, 3) uint8, actions the
contract's normalised [-1, 1] Box (an action outside it is an error, not silently clipped).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from jsrl_learning.datasets import DatasetError, save_minari
from jsrl_ros.recording.episode_bags import RecordedEpisode, list_episode_bags, read_episode


def bags_to_minari(bag_dir: str | Path, dataset_id: str, successful_only: bool = False,
                   skip_evaluation: bool = False, **metadata: Any) -> Path:
    """Convert every finished bag in ``bag_dir`` (filtered) to Minari ``dataset_id``; returns its directory."""
    bags = list_episode_bags(bag_dir)
    if not bags:
        raise DatasetError(f"{bag_dir}: no finished episode bags")
    recorded = [r for r in map(read_episode, bags)
                if (r.meta.success or not successful_only) and not (r.meta.evaluation and skip_evaluation)]
    if not recorded:
        raise DatasetError(f"{bag_dir}: none of {len(bags)} episode bags passes the filters")
    observation_space, action_space = _spaces(recorded)
    metadata.setdefault("description", f"episodes recorded by jsrl_ros from {Path(bag_dir).resolve()}")
    return save_minari([r.episode for r in recorded], dataset_id, observation_space=observation_space,
                       action_space=action_space, **metadata)


def _spaces(recorded: list[RecordedEpisode]) -> tuple[gym.Space, gym.Space]:
    """Spaces of the first episode; every other episode must have the same shapes."""
    def vector(n: int) -> gym.spaces.Box:
        return gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)

    first = recorded[0].episode
    if isinstance(first.obs, dict):
        observation_space: gym.Space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, first.obs["image"].shape[1:], np.uint8),
            "proprio": vector(first.obs["proprio"].shape[1])})
    else:
        observation_space = vector(first.obs.shape[1])
    action_space = gym.spaces.Box(-1.0, 1.0, first.actions.shape[1:], np.float32)
    for r in recorded:
        obs = r.episode.obs
        shapes = {k: v.shape[1:] for k, v in obs.items()} if isinstance(obs, dict) else obs.shape[1:]
        expected = ({k: s.shape for k, s in observation_space.spaces.items()}
                    if isinstance(observation_space, gym.spaces.Dict) else observation_space.shape)
        if shapes != expected or r.episode.actions.shape[1:] != action_space.shape:
            raise DatasetError(f"{r.path}: observation {shapes} / action {r.episode.actions.shape[1:]} shapes differ "
                               f"from {recorded[0].path}'s {expected} / {action_space.shape}")
        outside = np.flatnonzero(np.any(np.abs(r.episode.actions) > 1.0, axis=1))
        if outside.size:
            raise DatasetError(f"{r.path}: action of step {int(outside[0])} is outside the normalised [-1, 1] range: "
                               f"{r.episode.actions[outside[0]].tolist()}")
    return observation_space, action_space


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jsrl_ros.recording.bags_to_minari", description=__doc__.split("\n")[0])
    parser.add_argument("bag_dir", help="folder of episode bags (the recorder's episode_dir)")
    parser.add_argument("dataset_id", help="Minari dataset id, e.g. grasp/demos-v0")
    parser.add_argument("--successful-only", action="store_true", help="keep successful episodes only (demos)")
    parser.add_argument("--skip-evaluation", action="store_true", help="leave out evaluation episodes")
    parser.add_argument("--description", help="dataset description")
    args = parser.parse_args(argv)
    extra = {"description": args.description} if args.description else {}
    try:
        path = bags_to_minari(args.bag_dir, args.dataset_id, args.successful_only, args.skip_evaluation, **extra)
    except ValueError as exc:  # DatasetError, EpisodeBagError, Minari's "already exists"
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
