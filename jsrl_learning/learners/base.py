"""The interface the JSRL loop needs from an exploration learner."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from jsrl_learning.buffers import Batch


class Learner(ABC):
    """An online RL learner used as JSRL's exploration policy.

    ``act(obs, explore=True)`` is the behaviour policy used while collecting data;
    ``explore=False`` is the greedy policy that evaluation uses. ``update`` takes one
    gradient (or tabular) step on a sampled batch and returns scalar metrics.
    """

    @abstractmethod
    def act(self, obs: np.ndarray, explore: bool = True) -> Any: ...

    @abstractmethod
    def update(self, batch: Batch) -> dict[str, float]: ...

    def fit_observations(self, obs: Any, rng: np.random.Generator) -> None:
        """Called with the replay's observations before the first update; a learner that
        standardises from data fixes its statistics here. Default: nothing to fit."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: networks, optimisers, RNG, counters."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
