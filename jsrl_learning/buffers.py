"""Replay storage: a fixed-capacity FIFO ring and an offline/online mixture.

Transitions are stored as preallocated numpy arrays (no per-step Python objects), so
adding and sampling stay cheap at 100k+ transitions. A Dict observation (e.g. a uint8
camera image beside a float proprioceptive vector) is kept as a dict of such arrays, one
per key, each in its own dtype: images stay uint8 (4x smaller than float, and the networks
scale them to [0, 1] themselves).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence, Union

import gymnasium as gym
import numpy as np

Obs = Union[np.ndarray, dict[str, np.ndarray]]
"""A batch of observations: one array, or one array per key of a Dict observation space."""


def take_obs(obs: Obs, index: Any) -> Obs:
    """Rows ``index`` of an observation batch (of every entry, for Dict observations)."""
    if isinstance(obs, Mapping):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


def concat_obs(parts: Sequence[Obs]) -> Obs:
    """Observation batches one after the other; Dict batches must share their keys."""
    if isinstance(parts[0], Mapping):
        keys = list(parts[0])
        for part in parts[1:]:
            if not isinstance(part, Mapping) or set(part) != set(keys):
                got = sorted(part) if isinstance(part, Mapping) else type(part).__name__
                raise ValueError(f"concat_obs: Dict observations with keys {sorted(keys)} cannot be "
                                 f"joined with {got}")
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}
    return np.concatenate(parts)


@dataclass
class Batch:
    """A set of transitions, as arrays with a leading batch dimension.

    ``obs`` and ``next_obs`` are arrays, or dicts of arrays for Dict observations.
    ``terminals`` is 1.0 where the episode truly ended (no bootstrap), 0.0 on time-limit
    truncation or mid-episode.
    """

    FIELDS: ClassVar[tuple[str, ...]] = ("obs", "actions", "rewards", "next_obs", "terminals")
    OBS_FIELDS: ClassVar[tuple[str, ...]] = ("obs", "next_obs")

    obs: Obs
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: Obs
    terminals: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @staticmethod
    def concatenate(parts: list["Batch"]) -> "Batch":
        return Batch(*(concat_obs([getattr(p, f) for p in parts]) if f in Batch.OBS_FIELDS
                       else np.concatenate([getattr(p, f) for p in parts]) for f in Batch.FIELDS))


ObsShape = Union[tuple[int, ...], Mapping[str, tuple[int, ...]]]


class ReplayBuffer:
    """FIFO ring of transitions; the oldest are overwritten once ``capacity`` is reached.

    ``obs_shape`` is one shape, or a mapping key -> shape for Dict observations; ``obs_dtype``
    is then one dtype for every key or a mapping key -> dtype. :meth:`for_spaces` derives
    both from gymnasium spaces.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: ObsShape,
        action_shape: tuple[int, ...],
        obs_dtype: Any = np.float32,
        action_dtype: Any = np.float32,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be > 0, got {capacity}")
        self.capacity = capacity
        self.obs = _allocate(capacity, obs_shape, obs_dtype)
        self.next_obs = _allocate(capacity, obs_shape, obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminals = np.zeros(capacity, dtype=np.float32)
        self._next = 0
        self._size = 0

    @classmethod
    def for_spaces(cls, capacity: int, observation_space: gym.Space, action_space: gym.Space) -> "ReplayBuffer":
        """Arrays matching the spaces: integer ids for Discrete, uint8 kept, other Boxes float32,
        one array per key for a Dict of those."""
        if isinstance(observation_space, gym.spaces.Dict):
            entries = {k: _shape_dtype(s, f"observation_space[{k!r}]") for k, s in observation_space.spaces.items()}
            obs_shape: ObsShape = {k: shape for k, (shape, _) in entries.items()}
            obs_dtype: Any = {k: dtype for k, (_, dtype) in entries.items()}
        else:
            obs_shape, obs_dtype = _shape_dtype(observation_space, "observation_space")
        action_shape, action_dtype = _shape_dtype(action_space, "action_space")
        return cls(capacity, obs_shape, action_shape, obs_dtype, action_dtype)

    def __len__(self) -> int:
        return self._size

    def add(self, obs: Any, action: Any, reward: float, next_obs: Any, terminal: bool) -> None:
        i = self._next
        _write(self.obs, i, obs, "obs")
        self.actions[i] = action
        self.rewards[i] = reward
        _write(self.next_obs, i, next_obs, "next_obs")
        self.terminals[i] = float(terminal)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def add_batch(self, batch: Batch) -> None:
        """Append in order, as repeated :meth:`add` would, with one array write per field."""
        n = len(batch)
        keep = slice(max(0, n - self.capacity), n)  # the rows that survive the ring's wrap-around
        rows = (self._next + np.arange(keep.start, n)) % self.capacity
        _write(self.obs, rows, take_obs(batch.obs, keep), "obs")
        _write(self.next_obs, rows, take_obs(batch.next_obs, keep), "next_obs")
        self.actions[rows] = batch.actions[keep]
        self.rewards[rows] = batch.rewards[keep]
        self.terminals[rows] = batch.terminals[keep]
        self._next = (self._next + n) % self.capacity
        self._size = min(self._size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if self._size == 0:
            raise ValueError("ReplayBuffer: cannot sample from an empty buffer")
        idx = rng.integers(0, self._size, size=batch_size)
        return Batch(take_obs(self.obs, idx), self.actions[idx], self.rewards[idx],
                     take_obs(self.next_obs, idx), self.terminals[idx])

    def state_dict(self) -> dict[str, Any]:
        n = self._size
        return {"capacity": self.capacity, "next": self._next, "size": n,
                **{f: _copy(take_obs(getattr(self, f), slice(0, n))) for f in Batch.FIELDS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"ReplayBuffer: saved capacity {state['capacity']} != {self.capacity}")
        n = state["size"]
        for f in Batch.FIELDS:
            _write(getattr(self, f), slice(0, n), state[f], f)
        self._size, self._next = n, state["next"]


def _shape_dtype(space: gym.Space, where: str) -> tuple[tuple[int, ...], Any]:
    if isinstance(space, gym.spaces.Discrete):
        return (), np.int64
    if isinstance(space, gym.spaces.Box):
        return space.shape, (np.uint8 if space.dtype == np.uint8 else np.float32)
    raise ValueError(f"ReplayBuffer: {where} must be a Box or Discrete space (or a Dict of them), got {space}")


def _allocate(capacity: int, shape: ObsShape, dtype: Any) -> Obs:
    if not isinstance(shape, Mapping):
        return np.zeros((capacity, *shape), dtype=dtype)
    dtypes = dtype if isinstance(dtype, Mapping) else dict.fromkeys(shape, dtype)
    if set(dtypes) != set(shape):
        raise ValueError(f"ReplayBuffer: obs_dtype keys {sorted(dtypes)} != obs_shape keys {sorted(shape)}")
    return {k: np.zeros((capacity, *s), dtype=dtypes[k]) for k, s in shape.items()}


def _write(store: Obs, index: Any, value: Any, name: str) -> None:
    """``store[index] = value``, key by key for Dict observations (which must have the same keys)."""
    if not isinstance(store, Mapping):
        store[index] = value
        return
    if not isinstance(value, Mapping) or set(value) != set(store):
        got = f"keys {sorted(value)}" if isinstance(value, Mapping) else f"a {type(value).__name__}"
        raise ValueError(f"ReplayBuffer: {name} must be a dict with keys {sorted(store)}, got {got}")
    for k, array in store.items():
        array[index] = value[k]


def _copy(obs: Obs) -> Obs:
    return {k: v.copy() for k, v in obs.items()} if isinstance(obs, Mapping) else obs.copy()


class MixedReplay:
    """Samples a fixed fraction from online experience and the rest from offline data.

    IQL fine-tuning in JSRL keeps the offline buffer and a FIFO online buffer and draws
    25/75 (offline/online) by default. Until the online buffer has data, all samples come
    from the offline one.
    """

    def __init__(self, offline: ReplayBuffer, online: ReplayBuffer, online_fraction: float = 0.75) -> None:
        if not 0.0 <= online_fraction <= 1.0:
            raise ValueError(f"MixedReplay: online_fraction must be in [0, 1], got {online_fraction}")
        self.offline, self.online, self.online_fraction = offline, online, online_fraction

    def __len__(self) -> int:
        return len(self.offline) + len(self.online)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        n_online = round(batch_size * self.online_fraction) if len(self.online) else 0
        if len(self.offline) == 0:
            n_online = batch_size
        parts = []
        if batch_size - n_online:
            parts.append(self.offline.sample(batch_size - n_online, rng))
        if n_online:
            parts.append(self.online.sample(n_online, rng))
        return parts[0] if len(parts) == 1 else Batch.concatenate(parts)
