"""Offline data in and out: numpy arrays, ``.npz`` files and Minari datasets, as a ``Batch``.

A dataset is named by a ``.npz`` path, a Minari dataset directory, or a Minari dataset id
looked up under ``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``). Nothing is ever
downloaded: D4RL/Minari data are generated locally.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.storage import get_dataset_path

from jsrl_learning.buffers import Batch

if TYPE_CHECKING:  # rollout -> guides -> datasets would otherwise import in a circle
    from jsrl_learning.rollout import Episode


class DatasetError(ValueError):
    """A dataset is missing or malformed; the message names it (and the field)."""


def from_arrays(obs: Any, actions: Any, rewards: Any, next_obs: Any, terminals: Any) -> Batch:
    """Validate and pack transition arrays; rewards and terminals become float32 vectors."""
    obs, actions, next_obs = np.asarray(obs), np.asarray(actions), np.asarray(next_obs)
    rewards = np.asarray(rewards, dtype=np.float32)
    terminals = np.asarray(terminals, dtype=np.float32)
    fields = {"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs, "terminals": terminals}
    for name, array in fields.items():
        if array.ndim == 0:
            raise DatasetError(f"from_arrays: {name} must have a leading transition axis, got a scalar")
    n = len(obs)
    for name, array in fields.items():
        if len(array) != n:
            raise DatasetError(f"from_arrays: {name} has {len(array)} entries but obs has {n}")
    for name in ("rewards", "terminals"):
        if fields[name].ndim != 1:
            raise DatasetError(f"from_arrays: {name} must be 1-D (one per transition), got shape {fields[name].shape}")
    if next_obs.shape != obs.shape:
        raise DatasetError(f"from_arrays: next_obs shape {next_obs.shape} != obs shape {obs.shape}")
    if obs.dtype == np.float64:  # replay and networks work in float32
        obs, next_obs = obs.astype(np.float32), next_obs.astype(np.float32)
    if actions.dtype == np.float64:
        actions = actions.astype(np.float32)
    return Batch(obs, actions, rewards, next_obs, terminals)


def locate_dataset(source: str) -> tuple[str, Path]:
    """``("npz", file)`` or ``("minari", data directory)`` for ``source``; DatasetError if absent."""
    path = Path(source).expanduser()
    if source.endswith(".npz"):
        if not path.is_file():
            raise DatasetError(f"dataset file not found: {path}")
        return "npz", path
    if path.exists():
        data_dir = path if (path / "metadata.json").is_file() else path / "data"
        if not (data_dir / "metadata.json").is_file():
            raise DatasetError(f"{path}: not a Minari dataset (no metadata.json in it or in its data/)")
        return "minari", data_dir
    data_dir = get_dataset_path(source) / "data"
    if not data_dir.is_dir():
        root = os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets")
        raise DatasetError(f"dataset {source!r} not found: no such file, and no Minari dataset with that id "
                           f"under {root} (MINARI_DATASETS_PATH)")
    return "minari", data_dir


def load_dataset(source: str) -> Batch:
    """Load a ``.npz`` file or a Minari dataset (directory or id)."""
    kind, _ = locate_dataset(source)
    return load_npz(source) if kind == "npz" else load_minari(source)


def save_npz(path: str | Path, batch: Batch) -> None:
    np.savez_compressed(path, **{f: getattr(batch, f) for f in Batch.FIELDS})


def load_npz(path: str | Path) -> Batch:
    _, path = locate_dataset(str(path))
    with np.load(path) as data:
        missing = [f for f in Batch.FIELDS if f not in data.files]
        if missing:
            raise DatasetError(f"{path}: missing array(s) {', '.join(missing)}; has {', '.join(data.files)}")
        try:
            return from_arrays(*(data[f] for f in Batch.FIELDS))
        except DatasetError as exc:
            raise DatasetError(f"{path}: {exc}") from exc


def load_minari(dataset_id_or_path: str) -> Batch:
    """All episodes of a Minari dataset as transitions; Dict observations are flattened.

    Flattening concatenates the Dict's entries in the space's key order, as
    ``gymnasium.spaces.flatten`` (and the ``FlattenObservation`` wrapper) would.
    """
    kind, data_dir = locate_dataset(dataset_id_or_path)
    if kind != "minari":
        raise DatasetError(f"{dataset_id_or_path}: a .npz file, not a Minari dataset (use load_npz)")
    dataset = minari.MinariDataset(data_dir)
    parts = []
    for episode in dataset.iterate_episodes():
        obs = _flat_observations(episode.observations, dataset.observation_space, dataset_id_or_path)
        parts.append(from_arrays(obs[:-1], episode.actions, episode.rewards, obs[1:], episode.terminations))
    if not parts:
        raise DatasetError(f"{dataset_id_or_path}: the Minari dataset has no episodes")
    return Batch.concatenate(parts)


def _flat_observations(obs: Any, space: gym.Space, name: str) -> np.ndarray:
    if isinstance(space, gym.spaces.Dict):
        if not all(isinstance(s, gym.spaces.Box) for s in space.spaces.values()):
            raise DatasetError(f"{name}: only Dict observations of Box entries can be flattened, got {space}")
        return np.concatenate([np.asarray(obs[k]).reshape(len(obs[k]), -1) for k in space.spaces], axis=1)
    if isinstance(space, (gym.spaces.Box, gym.spaces.Discrete)):
        return np.asarray(obs)
    raise DatasetError(f"{name}: unsupported observation space {space}")


def save_minari(episodes: Sequence[Episode], dataset_id: str, env: gym.Env | str | None = None,
                observation_space: gym.Space | None = None, action_space: gym.Space | None = None,
                **metadata: Any) -> Path:
    """Write ``episodes`` as Minari dataset ``dataset_id`` under MINARI_DATASETS_PATH; returns its directory.

    Spaces come from ``env`` unless given (both are required without an env). ``metadata``
    passes on to ``minari.create_dataset_from_buffers`` (description, algorithm_name, ...).
    """
    if not episodes:
        raise DatasetError(f"save_minari: no episodes to write to {dataset_id!r}")
    buffers = [
        EpisodeBuffer(id=i, observations=np.concatenate([e.obs, e.next_obs[-1:]]), actions=e.actions,
                      rewards=e.rewards, terminations=e.terminated, truncations=e.truncated, infos={})
        for i, e in enumerate(episodes)
    ]
    minari.create_dataset_from_buffers(dataset_id, buffers, env=env, observation_space=observation_space,
                                       action_space=action_space, **metadata)
    return get_dataset_path(dataset_id)
