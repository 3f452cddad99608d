"""One trajectory and who was in control at every step: what rollouts produce and datasets store."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jsrl_learning.buffers import Batch, Obs

GUIDE, EXPLORER = "guide", "explorer"


@dataclass
class Episode:
    """One trajectory with who was in control at every step."""

    obs: Obs
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: Obs
    terminated: np.ndarray
    truncated: np.ndarray
    controller: list[str]
    success: bool
    guide_steps: int

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def total_return(self) -> float:
        return float(self.rewards.sum())

    def to_batch(self, timeouts_terminal: bool = False) -> Batch:
        """Transitions for replay; a termination stops bootstrapping, and so does a time-out
        where ``timeouts_terminal`` (for envs whose observation contains the time)."""
        terminals = self.terminated | self.truncated if timeouts_terminal else self.terminated
        return Batch(self.obs, self.actions, self.rewards.astype(np.float32), self.next_obs,
                     terminals.astype(np.float32))
