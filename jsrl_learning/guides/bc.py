"""Behaviour cloning: a guide learned from demonstrations (the paper's grasping guide).

Continuous actions: a network whose tanh output is mapped onto the action bounds, trained
by MSE in the unit box (so every action dimension weighs the same whatever its units).
Discrete actions: logits trained by cross-entropy, acting greedily.

Observations go through the learners' own encoder for their space (``make_encoder``), so
BC and QT-Opt see images the same way: state observations are flattened into one vector;
Dict observations of a uint8 camera image and vectors (the grasping env's image mode) go
through the CNN, with the vectors beside its features. Vectors (never images) are
standardised with the dataset's statistics, which are stored with the weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.buffers import Batch, Obs, take_obs
from jsrl_learning.checkpoint import (
    CheckpointError, load_checkpoint, save_checkpoint, space_from_state, space_to_state,
)
from jsrl_learning.config import from_mapping, require, to_mapping
from jsrl_learning.learners.encoders import make_encoder
from jsrl_learning.learners.networks import (
    BoxScaler, ObsTensor, as_tensor_obs, mlp, obs_shape_of, obs_tensor, seeded_init,
)

SAVED_KEYS = ("config", "observation_space", "action_space", "obs_mean", "obs_std", "encoder", "net", "losses")


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
    """A cloned policy; build with :meth:`train` or :meth:`load`.

    ``observation_space`` is what the encoder sees: a flat float Box for state observations,
    or the Dict of image and vectors. ``obs_mean``/``obs_std`` standardise the vector(s): one
    array, or one per vector key of the Dict.
    """

    def __init__(self, config: BCConfig, observation_space: gym.Space,
                 action_space: gym.spaces.Box | gym.spaces.Discrete, obs_mean: Obs, obs_std: Obs) -> None:
        config.validate("BCGuide")
        self.config, self.observation_space, self.action_space = config, observation_space, action_space
        self.obs_mean, self.obs_std = _as_tensors(obs_mean), _as_tensors(obs_std)
        self.obs_shape = obs_shape_of(observation_space)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            out_dim = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box):
            out_dim = int(np.prod(action_space.shape))
            self.scaler = BoxScaler(action_space.low.ravel(), action_space.high.ravel(), "BCGuide")
        else:
            raise TypeError(f"BCGuide: action space must be Box or Discrete, got {action_space}")
        with seeded_init(config.seed):
            self.encoder = make_encoder(observation_space, "BCGuide")
            self.net = mlp(self.encoder.out_dim, out_dim, config.hidden)
        self.losses: list[float] = []

    @classmethod
    def train(cls, data: Batch, config: BCConfig, action_space: gym.spaces.Box | gym.spaces.Discrete) -> "BCGuide":
        """Fit to ``data.obs -> data.actions`` (rewards and next_obs are ignored)."""
        config.validate("BCGuide")
        if len(data) == 0:
            raise ValueError("BCGuide.train: the dataset is empty")
        obs = _encoder_input(data.obs)
        vectors = _vectors(obs)
        mean = {k: v.mean(axis=0) for k, v in vectors.items()}
        std = {k: v.std(axis=0) + 1e-3 for k, v in vectors.items()}
        if not isinstance(obs, Mapping):
            mean, std = mean[""], std[""]
        guide = cls(config, _space_of(obs), action_space, mean, std)
        x_all = as_tensor_obs(obs)
        if guide.discrete:
            labels = np.asarray(data.actions).reshape(-1) - int(action_space.start)
            y_all = torch.as_tensor(labels, dtype=torch.long)
            loss_fn: nn.Module = nn.CrossEntropyLoss()
        else:
            actions = torch.as_tensor(np.asarray(data.actions), dtype=torch.float32).reshape(len(data), -1)
            y_all = guide.scaler.to_unit(actions)
            loss_fn = nn.MSELoss()
        optimizer = torch.optim.Adam([*guide.encoder.parameters(), *guide.net.parameters()], lr=config.lr)
        rng = np.random.default_rng(config.seed)
        for _ in range(config.n_updates):
            idx = torch.as_tensor(rng.integers(0, len(data), size=config.batch_size))
            loss = loss_fn(guide._head(take_obs(x_all, idx)), y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            guide.losses.append(loss.item())
        return guide

    def _head(self, obs: ObsTensor) -> torch.Tensor:
        """Logits (discrete) or unit-box actions (continuous) for a batch of encoder inputs."""
        if isinstance(obs, Mapping):
            obs = {k: (v.float() - self.obs_mean[k]) / self.obs_std[k] if k in self.obs_mean else v
                   for k, v in obs.items()}
        else:
            obs = (obs.float() - self.obs_mean) / self.obs_std
        out = self.net(self.encoder(obs))
        return out if self.discrete else torch.tanh(out)

    def act(self, obs: Any) -> Any:
        if isinstance(self.obs_shape, Mapping):
            x, _ = obs_tensor(obs, self.obs_shape)
        else:
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(1, -1)
        with torch.inference_mode():
            out = self._head(x)[0]
            if self.discrete:
                return int(out.argmax()) + int(self.action_space.start)
            return self.scaler.to_env(out).numpy().reshape(self.action_space.shape)

    def reset(self) -> None:
        """Stateless: nothing to clear between episodes."""

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, {"kind": "bc_guide", "config": to_mapping(self.config),
                               "observation_space": space_to_state(self.observation_space),
                               "action_space": space_to_state(self.action_space),
                               "obs_mean": self.obs_mean, "obs_std": self.obs_std,
                               "encoder": self.encoder.state_dict(), "net": self.net.state_dict(),
                               "losses": self.losses})

    @classmethod
    def load(cls, path: str | Path) -> "BCGuide":
        state = load_checkpoint(path)
        if state.get("kind") != "bc_guide":
            raise CheckpointError(f"{path}: not a BC guide (kind={state.get('kind')!r})")
        missing = [k for k in SAVED_KEYS if k not in state]
        if missing:
            raise CheckpointError(f"{path}: BC guide lacks {', '.join(missing)} (saved by an older version?)")
        guide = cls(from_mapping(BCConfig, state["config"], f"{path}: config"),
                    space_from_state(state["observation_space"]), space_from_state(state["action_space"]),
                    state["obs_mean"], state["obs_std"])
        guide.encoder.load_state_dict(state["encoder"])
        guide.net.load_state_dict(state["net"])
        guide.losses = list(state["losses"])
        return guide


def _is_image(array: np.ndarray) -> bool:
    """A batch of uint8 (H, W, C) images."""
    return array.dtype == np.uint8 and array.ndim == 4


def _encoder_input(obs: Obs) -> Obs:
    """State observations as one float32 vector each; Dict entries kept (vectors as float32)."""
    if isinstance(obs, Mapping):
        return {k: np.asarray(v) if _is_image(np.asarray(v)) else np.asarray(v, np.float32) for k, v in obs.items()}
    obs = np.asarray(obs, dtype=np.float32)
    return obs.reshape(len(obs), -1)


def _vectors(obs: Obs) -> dict[str, np.ndarray]:
    """The entries standardised by the dataset's statistics: all but images ("" for a plain array)."""
    if isinstance(obs, Mapping):
        return {k: v for k, v in obs.items() if not _is_image(v)}
    return {"": obs}


def _space_of(obs: Obs) -> gym.Space:
    """The space the encoder is built for, read off the training data."""
    if isinstance(obs, Mapping):
        return gym.spaces.Dict({k: _space_of(v) for k, v in obs.items()})
    if _is_image(obs):
        return gym.spaces.Box(0, 255, obs.shape[1:], np.uint8)
    return gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float32)


def _as_tensors(value: Obs | torch.Tensor) -> ObsTensor:
    if isinstance(value, Mapping):
        return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in value.items()}
    return torch.as_tensor(value, dtype=torch.float32)

