"""Behaviour cloning: a guide learned from demonstrations (the paper's grasping guide).

Continuous actions: an MLP whose tanh output is mapped onto the action bounds, trained
by MSE in the unit box (so every action dimension weighs the same whatever its units).
Discrete actions: logits trained by cross-entropy, acting greedily. Observations are
flattened and standardised with the dataset's statistics, stored with the weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.buffers import Batch
from jsrl_learning.checkpoint import (
    CheckpointError, load_checkpoint, save_checkpoint, space_from_state, space_to_state,
)
from jsrl_learning.config import from_mapping, require, to_mapping
from jsrl_learning.learners.networks import BoxScaler, mlp, seeded_init


@dataclass
class BCConfig:
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    lr: float = 1e-3
    n_updates: int = 2000
    batch_size: int = 256
    seed: int = 0

    def validate(self, where: str) -> None:
        self.hidden = list(self.hidden)
        require(all(isinstance(h, int) and h > 0 for h in self.hidden), where,
                f"hidden must be a list of positive ints, got {self.hidden}")
        require(self.lr > 0, where, f"lr must be > 0, got {self.lr}")
        require(isinstance(self.n_updates, int) and self.n_updates >= 0, where,
                f"n_updates must be an int >= 0, got {self.n_updates!r}")
        require(isinstance(self.batch_size, int) and self.batch_size > 0, where,
                f"batch_size must be a positive int, got {self.batch_size!r}")


class BCGuide:
    """A cloned policy; build with :meth:`train` or :meth:`load`."""

    def __init__(self, config: BCConfig, action_space: gym.spaces.Box | gym.spaces.Discrete,
                 obs_mean: np.ndarray, obs_std: np.ndarray) -> None:
        config.validate("BCGuide")
        self.config, self.action_space = config, action_space
        self.obs_mean = torch.as_tensor(obs_mean, dtype=torch.float32)
        self.obs_std = torch.as_tensor(obs_std, dtype=torch.float32)
        self.obs_shape = tuple(obs_mean.shape)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            out_dim = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box):
            out_dim = int(np.prod(action_space.shape))
            self.scaler = BoxScaler(action_space.low.ravel(), action_space.high.ravel(), "BCGuide")
        else:
            raise TypeError(f"BCGuide: action space must be Box or Discrete, got {action_space}")
        with seeded_init(config.seed):
            self.net = mlp(int(np.prod(self.obs_shape)), out_dim, config.hidden)
        self.losses: list[float] = []

    @classmethod
    def train(cls, data: Batch, config: BCConfig, action_space: gym.spaces.Box | gym.spaces.Discrete) -> "BCGuide":
        """Fit to ``data.obs -> data.actions`` (rewards and next_obs are ignored)."""
        config.validate("BCGuide")
        if len(data) == 0:
            raise ValueError("BCGuide.train: the dataset is empty")
        obs = np.asarray(data.obs, dtype=np.float32)
        flat = obs.reshape(len(obs), -1)
        guide = cls(config, action_space, obs.mean(axis=0), obs.std(axis=0) + 1e-3)
        x_all = guide._features(torch.as_tensor(flat))
        if guide.discrete:
            labels = np.asarray(data.actions).reshape(-1) - int(action_space.start)
            y_all = torch.as_tensor(labels, dtype=torch.long)
            loss_fn: nn.Module = nn.CrossEntropyLoss()
        else:
            actions = torch.as_tensor(np.asarray(data.actions), dtype=torch.float32).reshape(len(obs), -1)
            y_all = guide.scaler.to_unit(actions)
            loss_fn = nn.MSELoss()
        optimizer = torch.optim.Adam(guide.net.parameters(), lr=config.lr)
        rng = np.random.default_rng(config.seed)
        for _ in range(config.n_updates):
            idx = torch.as_tensor(rng.integers(0, len(obs), size=config.batch_size))
            loss = loss_fn(guide._head(x_all[idx]), y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            guide.losses.append(loss.item())
        return guide

    def _features(self, flat_obs: torch.Tensor) -> torch.Tensor:
        return (flat_obs - self.obs_mean.reshape(-1)) / self.obs_std.reshape(-1)

    def _head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (discrete) or unit-box actions (continuous)."""
        out = self.net(features)
        return out if self.discrete else torch.tanh(out)

    def act(self, obs: Any) -> Any:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(1, -1)
        with torch.inference_mode():
            out = self._head(self._features(x))[0]
            if self.discrete:
                return int(out.argmax()) + int(self.action_space.start)
            return self.scaler.to_env(out).numpy().reshape(self.action_space.shape)

    def reset(self) -> None:
        """Stateless: nothing to clear between episodes."""

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, {"kind": "bc_guide", "config": to_mapping(self.config),
                               "action_space": space_to_state(self.action_space),
                               "obs_mean": self.obs_mean, "obs_std": self.obs_std,
                               "net": self.net.state_dict(), "losses": self.losses})

    @classmethod
    def load(cls, path: str | Path) -> "BCGuide":
        state = load_checkpoint(path)
        if state.get("kind") != "bc_guide":
            raise CheckpointError(f"{path}: not a BC guide (kind={state.get('kind')!r})")
        guide = cls(from_mapping(BCConfig, state["config"], f"{path}: config"),
                    space_from_state(state["action_space"]),
                    state["obs_mean"].numpy(), state["obs_std"].numpy())
        guide.net.load_state_dict(state["net"])
        guide.losses = list(state["losses"])
        return guide
