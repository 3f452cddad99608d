"""Crash-safe checkpoint files that load without unpickling arbitrary objects.

Writes go to a temporary file in the same directory, are fsynced, then ``os.replace``d
over the target: a process killed mid-write leaves the previous checkpoint intact, and a
reader (e.g. the ROS policy node picking up new explorer weights) never sees half a file.

Numpy arrays are stored as tensors (tagged) so that ``torch.load(weights_only=True)``
can read everything back: loading a checkpoint never runs code from the file.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

NDARRAY_TAG = "__ndarray__"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or not a checkpoint; the message names the file."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file + fsync + rename + dir fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide it from other users' nodes
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: str | Path, state: dict[str, Any], config: dict[str, Any] | None = None) -> None:
    """Write ``state`` atomically; with ``config``, also the run's ``config.yaml`` beside it.

    ``state`` holds nested dicts/lists of tensors, numpy arrays, numbers and strings.
    """
    path = Path(path)
    if config is not None:
        atomic_write_bytes(path.parent / "config.yaml", yaml.safe_dump(config, sort_keys=False).encode())
    buffer = io.BytesIO()
    torch.save(_encode(state, "state"), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state written by :func:`save_checkpoint`, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged zip archives
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a checkpoint (top level is {type(raw).__name__}, not a dict)")
    return _decode(raw)


def space_to_state(space: gym.Space) -> dict[str, Any]:
    """A Box, Discrete or Dict-of-those space as plain data, so a checkpoint can rebuild its
    policy without the env (a Dict: e.g. the grasping env's image + proprio observation)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {"type": "box", "low": space.low, "high": space.high, "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "dict", "spaces": {k: space_to_state(s) for k, s in space.spaces.items()}}
    raise TypeError(f"checkpoint: only Box, Discrete and Dict spaces can be saved, got {space}")


def space_from_state(state: dict[str, Any]) -> gym.Space:
    if state["type"] == "discrete":
        return gym.spaces.Discrete(state["n"], start=state["start"])
    if state["type"] == "dict":
        return gym.spaces.Dict({k: space_from_state(s) for k, s in state["spaces"].items()})
    return gym.spaces.Box(state["low"], state["high"], dtype=np.dtype(state["dtype"]))


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"checkpoint: {where} is an object array, which cannot be saved safely")
        if not (value.flags.c_contiguous and value.flags.writeable):
            value = np.array(value, order="C")
        return {NDARRAY_TAG: torch.from_numpy(value)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_encode(v, f"{where}[{i}]") for i, v in enumerate(value))
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {NDARRAY_TAG}:
            return value[NDARRAY_TAG].numpy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_decode(v) for v in value)
    return value
