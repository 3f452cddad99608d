"""Replay storage: a fixed-capacity FIFO ring and an offline/online mixture.

Transitions are stored as preallocated numpy arrays (no per-step Python objects), so
adding and sampling stay cheap at 100k+ transitions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass
class Batch:
    """A set of transitions, as arrays with a leading batch dimension.

    ``terminals`` is 1.0 where the episode truly ended (no bootstrap), 0.0 on time-limit
    truncation or mid-episode.
    """

    FIELDS: ClassVar[tuple[str, ...]] = ("obs", "actions", "rewards", "next_obs", "terminals")

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminals: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @staticmethod
    def concatenate(parts: list["Batch"]) -> "Batch":
        return Batch(*(np.concatenate([getattr(p, f) for p in parts]) for f in Batch.FIELDS))



class ReplayBuffer:
    """FIFO ring of transitions; the oldest are overwritten once ``capacity`` is reached."""

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: Any = np.float32,
        action_dtype: Any = np.float32,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be > 0, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminals = np.zeros(capacity, dtype=np.float32)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, obs: Any, action: Any, reward: float, next_obs: Any, terminal: bool) -> None:
        i = self._next
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminals[i] = float(terminal)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def add_batch(self, batch: Batch) -> None:
        for i in range(len(batch)):
            self.add(batch.obs[i], batch.actions[i], batch.rewards[i], batch.next_obs[i],
                     bool(batch.terminals[i]))

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if self._size == 0:
            raise ValueError("ReplayBuffer: cannot sample from an empty buffer")
        idx = rng.integers(0, self._size, size=batch_size)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx],
                     self.next_obs[idx], self.terminals[idx])

    def state_dict(self) -> dict[str, Any]:
        n = self._size
        return {"capacity": self.capacity, "next": self._next, "size": n,
                **{f: getattr(self, f)[:n].copy() for f in Batch.FIELDS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"ReplayBuffer: saved capacity {state['capacity']} != {self.capacity}")
        n = state["size"]
        for f in Batch.FIELDS:
            getattr(self, f)[:n] = state[f]
        self._size, self._next = n, state["next"]


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
