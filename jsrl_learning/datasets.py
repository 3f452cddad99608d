"""Offline data in and out: numpy arrays, ``.npz`` files and Minari datasets, as a ``Batch``.

A dataset is named by a ``.npz`` path, a Minari dataset directory, or a Minari dataset id
looked up under ``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``). Nothing is ever
downloaded: D4RL/Minari data are generated locally.

Dict observations (camera image + proprioception) stay dicts of arrays, one per key, in
their own dtypes (uint8 images are never flattened or widened).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.storage import get_dataset_path

from jsrl_learning.buffers import Batch, Obs, concat_obs, take_obs
from jsrl_learning.episode import Episode


class DatasetError(ValueError):
    """A dataset is missing or malformed; the message names it (and the field)."""


def from_arrays(obs: Any, actions: Any, rewards: Any, next_obs: Any, terminals: Any) -> Batch:
    """Validate and pack transition arrays; rewards and terminals become float32 vectors.

    ``obs`` and ``next_obs`` may be dicts of arrays (Dict observations) with the same keys.
    """
    obs, next_obs = _obs_arrays(obs, "obs"), _obs_arrays(next_obs, "next_obs")
    actions = _narrow(np.asarray(actions))
    rewards = np.asarray(rewards, dtype=np.float32)
    terminals = np.asarray(terminals, dtype=np.float32)
    fields = {**_named_entries(obs, "obs"), "actions": actions, "rewards": rewards,
              **_named_entries(next_obs, "next_obs"), "terminals": terminals}
    for name, array in fields.items():
        if array.ndim == 0:
            raise DatasetError(f"from_arrays: {name} must have a leading transition axis, got a scalar")
    first = next(iter(fields))
    n = len(fields[first])
    for name, array in fields.items():
        if len(array) != n:
            raise DatasetError(f"from_arrays: {name} has {len(array)} entries but {first} has {n}")
    for name in ("rewards", "terminals"):
        if fields[name].ndim != 1:
            raise DatasetError(f"from_arrays: {name} must be 1-D (one per transition), got shape {fields[name].shape}")
    if isinstance(obs, Mapping) != isinstance(next_obs, Mapping) or \
            (isinstance(obs, Mapping) and list(obs) != list(next_obs)):
        raise DatasetError(f"from_arrays: next_obs has keys {_keys(next_obs)} but obs has {_keys(obs)}")
    for key, array in _named_entries(obs, "").items():
        other = _named_entries(next_obs, "")[key]
        if other.shape != array.shape:
            raise DatasetError(f"from_arrays: next_obs{key} shape {other.shape} != obs{key} shape {array.shape}")
    return Batch(obs, actions, rewards, next_obs, terminals)


def _narrow(array: np.ndarray) -> np.ndarray:
    """float64 -> float32: replay and networks work in float32 (uint8 images stay uint8)."""
    return array.astype(np.float32) if array.dtype == np.float64 else array


def _obs_arrays(obs: Any, name: str) -> Obs:
    if isinstance(obs, Mapping):
        if not obs:
            raise DatasetError(f"from_arrays: {name} is an empty dict")
        return {k: _narrow(np.asarray(v)) for k, v in obs.items()}
    return _narrow(np.asarray(obs))


def _named_entries(obs: Obs, name: str) -> dict[str, np.ndarray]:
    """``{name: array}``, or ``{name[key]: array}`` per key of a Dict observation."""
    if isinstance(obs, Mapping):
        return {f"{name}[{k!r}]": v for k, v in obs.items()}
    return {name: obs}


def _keys(obs: Obs) -> str:
    return str(list(obs)) if isinstance(obs, Mapping) else "none (an array)"


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
    """One array per field; a Dict observation's entries as ``obs/<key>`` and ``next_obs/<key>``."""
    arrays: dict[str, np.ndarray] = {}
    for f in Batch.FIELDS:
        value = getattr(batch, f)
        arrays.update({f"{f}/{k}": v for k, v in value.items()} if isinstance(value, Mapping) else {f: value})
    np.savez_compressed(path, **arrays)


def load_npz(path: str | Path) -> Batch:
    _, path = locate_dataset(str(path))
    with np.load(path) as data:
        fields: dict[str, Any] = {}
        for f in Batch.FIELDS:
            if f in data.files:
                fields[f] = data[f]
            elif entries := {name[len(f) + 1:]: data[name] for name in data.files if name.startswith(f"{f}/")}:
                fields[f] = entries
        missing = [f for f in Batch.FIELDS if f not in fields]
        if missing:
            raise DatasetError(f"{path}: missing array(s) {', '.join(missing)}; has {', '.join(data.files)}")
        try:
            return from_arrays(**fields)
        except DatasetError as exc:
            raise DatasetError(f"{path}: {exc}") from exc


def load_minari(dataset_id_or_path: str) -> Batch:
    """All episodes of a Minari dataset as transitions; Dict observations as dicts of arrays."""
    kind, data_dir = locate_dataset(dataset_id_or_path)
    if kind != "minari":
        raise DatasetError(f"{dataset_id_or_path}: a .npz file, not a Minari dataset (use load_npz)")
    dataset = minari.MinariDataset(data_dir)
    parts = []
    for episode in dataset.iterate_episodes():
        obs = _observations(episode.observations, dataset.observation_space, dataset_id_or_path)
        parts.append(from_arrays(take_obs(obs, slice(None, -1)), episode.actions, episode.rewards,
                                 take_obs(obs, slice(1, None)), episode.terminations))
    if not parts:
        raise DatasetError(f"{dataset_id_or_path}: the Minari dataset has no episodes")
    return Batch.concatenate(parts)


def _observations(obs: Any, space: gym.Space, name: str) -> Obs:
    """An episode's observations: one array, or one per key (in the space's order) for a Dict."""
    if isinstance(space, gym.spaces.Dict):
        nested = [k for k, s in space.spaces.items() if not isinstance(s, (gym.spaces.Box, gym.spaces.Discrete))]
        if nested:
            raise DatasetError(f"{name}: Dict observation entries must be Box or Discrete; "
                               f"{', '.join(f'{k!r} is {space[k]}' for k in nested)}")
        return {k: np.asarray(obs[k]) for k in space.spaces}
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
        EpisodeBuffer(id=i, observations=concat_obs([e.obs, take_obs(e.next_obs, slice(-1, None))]),
                      actions=e.actions, rewards=e.rewards, terminations=e.terminated,
                      truncations=e.truncated, infos={})
        for i, e in enumerate(episodes)
    ]
    minari.create_dataset_from_buffers(dataset_id, buffers, env=env, observation_space=observation_space,
                                       action_space=action_space, **metadata)
    return get_dataset_path(dataset_id)
