"""Tabular epsilon-greedy Q-learning for discrete toy problems (integer observations).

Used as the explorer on the combination-lock toy, where JSRL's benefit is exact to reason
about. Greedy ties are broken uniformly at random: with a zero-initialised table a
first-index argmax would always pick action 0 and hide (or fake) the effect of exploration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.config import require
from jsrl_learning.learners.base import Learner


@dataclass
class TabularQConfig:
    n_states: int
    n_actions: int
    lr: float = 0.5
    gamma: float = 0.99
    epsilon: float = 0.1
    seed: int = 0

    def validate(self, where: str) -> None:
        for key in ("n_states", "n_actions"):
            value = getattr(self, key)
            require(isinstance(value, int) and value > 0, where,
                    f"{key} must be a positive int, got {value!r}")
        require(0 < self.lr <= 1, where, f"lr must be in (0, 1], got {self.lr}")
        require(0 <= self.gamma <= 1, where, f"gamma must be in [0, 1], got {self.gamma}")
        require(0 <= self.epsilon <= 1, where, f"epsilon must be in [0, 1], got {self.epsilon}")


class TabularQLearner(Learner):
    """Q-table ``[n_states, n_actions]``, zero-initialised."""

    def __init__(self, config: TabularQConfig) -> None:
        self.config = config
        self.q = np.zeros((config.n_states, config.n_actions))
        self.rng = np.random.default_rng(config.seed)
        self.updates = 0

    def act(self, obs: Any, explore: bool = True) -> int:
        """Epsilon-random when exploring, else greedy with random tie-breaking."""
        if explore and self.rng.random() < self.config.epsilon:
            return int(self.rng.integers(self.config.n_actions))
        row = self.q[self._state(obs)]
        return int(self.rng.choice(np.flatnonzero(row == row.max())))

    def update_transition(self, obs: Any, action: Any, reward: float, next_obs: Any, terminal: bool) -> float:
        """One Q-learning step; returns the TD error (for online, per-step use)."""
        s, s2, a = self._state(obs), self._state(next_obs), int(np.asarray(action).item())
        bootstrap = 0.0 if terminal else self.config.gamma * self.q[s2].max()
        td = reward + bootstrap - self.q[s, a]
        self.q[s, a] += self.config.lr * td
        self.updates += 1
        return float(td)

    def update(self, batch: Batch) -> dict[str, float]:
        """Q-learning on each transition of ``batch`` in order."""
        td = [self.update_transition(batch.obs[i], batch.actions[i], float(batch.rewards[i]),
                                     batch.next_obs[i], bool(batch.terminals[i]))
              for i in range(len(batch))]
        return {"td_abs": float(np.mean(np.abs(td))), "q_max": float(self.q.max())}

    def _state(self, obs: Any) -> int:
        s = int(np.asarray(obs).item())
        if not 0 <= s < self.config.n_states:
            raise ValueError(f"TabularQLearner: state {s} outside [0, {self.config.n_states})")
        return s

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only, so it loads with ``torch.load(weights_only=True)``."""
        return {"q": torch.from_numpy(self.q.copy()), "rng": self.rng.bit_generator.state,
                "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        q = state["q"].numpy()
        if q.shape != self.q.shape:
            raise ValueError(f"TabularQLearner: saved table {q.shape} != {self.q.shape}")
        self.q = q.copy()
        self.rng.bit_generator.state = state["rng"]
        self.updates = state["updates"]
