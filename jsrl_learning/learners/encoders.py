"""Observation encoders: raw observation batch -> flat float features for the critics and BC.

Image observations arrive as uint8 ``[B, H, W, C]`` (as the camera node and the replay
store them, 4x smaller than float) and are scaled to [0, 1] here, inside the network.
Which encoder is used follows from the observation space alone (:func:`make_encoder`), so
a config can never claim images for a state space or the reverse.
"""
from __future__ import annotations

from typing import Mapping, Union

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.config import ConfigError


STD_FLOOR = 0.01  # a feature (nearly) constant in the fitted data is centred, not blown up
Z_LIMIT = 10.0  # standardised features are clipped here: far outliers must not saturate the critic


class VectorEncoder(nn.Module):
    """State vectors, standardised by fixed statistics (identity until set).

    A critic that reads raw metres sees the features that decide a grasp (std 0.01-0.08 m,
    needing ~1 cm precision) as near-constants; standardised, they span its input range. The
    statistics are buffers, so they are saved and loaded with the weights.
    """

    def __init__(self, obs_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(obs_shape) != 1:
            raise ValueError(f"VectorEncoder: state observations must be 1-D, got shape {obs_shape}")
        self.out_dim = obs_shape[0]
        self.register_buffer("mean", torch.zeros(obs_shape[0]))
        self.register_buffer("inv_std", torch.ones(obs_shape[0]))

    def set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Standardise with ``mean`` and ``std`` (floored at ``STD_FLOOR``) from now on."""
        if np.shape(mean) != (self.out_dim,) or np.shape(std) != (self.out_dim,):
            raise ValueError(f"VectorEncoder: statistics must have shape ({self.out_dim},), "
                             f"got {np.shape(mean)} and {np.shape(std)}")
        self.mean.copy_(torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.inv_std.copy_(torch.as_tensor(np.maximum(np.asarray(std, dtype=np.float32), STD_FLOOR)).reciprocal())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs.float() - self.mean) * self.inv_std).clamp_(-Z_LIMIT, Z_LIMIT)


class ImageEncoder(nn.Module):
    """A small DQN-style CNN (8/4, 4/2, 3/1 convolutions) over uint8 HxWxC images."""

    def __init__(self, obs_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"ImageEncoder: image observations must be (H, W, C), got shape {obs_shape}")
        h, w, c = obs_shape
        if min(h, w) < 36:  # smallest side the three convolutions can reduce to >= 1 pixel
            raise ValueError(f"ImageEncoder: images must be at least 36x36, got {h}x{w}")
        # In-place ReLUs (a convolution's backward needs its input, not its output): fewer
        # fresh activation tensors made the CNN's forward + backward ~14% faster at batch 256.
        self.net = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.out_dim = int(self.net(torch.zeros(1, c, h, w)).shape[1])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.permute(0, 3, 1, 2).float().div_(255.0))


class DictEncoder(nn.Module):
    """One camera image through :class:`ImageEncoder`, its features concatenated with the
    vector entries (proprioception, task info) in the space's key order.

    As in QT-Opt's grasping network, the gripper state joins after the convolutional trunk:
    the critic's first layer sees conv features and proprioception side by side.
    """

    def __init__(self, space: gym.spaces.Dict, where: str = "DictEncoder") -> None:
        super().__init__()
        images = [k for k, s in space.spaces.items() if _is_image(s)]
        self.vector_keys = [k for k, s in space.spaces.items() if _is_vector(s)]
        others = [k for k in space.spaces if k not in images and k not in self.vector_keys]
        if others:
            raise ConfigError(f"{where}: Dict observation entries must be uint8 (H, W, C) images or 1-D "
                              f"Boxes; {', '.join(f'{k!r} is {space[k]}' for k in others)}")
        if len(images) != 1:
            raise ConfigError(f"{where}: a Dict observation needs exactly one uint8 (H, W, C) image entry, "
                              f"got {len(images)} ({', '.join(map(repr, images)) or 'none'}) in {space}")
        self.image_key = images[0]
        self.image = ImageEncoder(space[self.image_key].shape)
        self.out_dim = self.image.out_dim + sum(space[k].shape[0] for k in self.vector_keys)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.image(obs[self.image_key]), *(obs[k].float() for k in self.vector_keys)], dim=1)


Encoder = Union[VectorEncoder, ImageEncoder, DictEncoder]


def _is_image(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == np.uint8


def _is_vector(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 1


def make_encoder(observation_space: gym.Space, where: str = "make_encoder") -> Encoder:
    """The encoder the space calls for: a 1-D Box (state), a uint8 (H, W, C) Box (image), or a
    Dict of one such image and 1-D Boxes (image + proprioception)."""
    if isinstance(observation_space, gym.spaces.Dict):
        return DictEncoder(observation_space, where)
    if _is_image(observation_space):
        return ImageEncoder(observation_space.shape)
    if _is_vector(observation_space):
        return VectorEncoder(observation_space.shape)
    raise ConfigError(f"{where}: observations must be a 1-D Box (state), a uint8 (H, W, C) Box (image) or a "
                      f"Dict of one such image and 1-D Boxes, got {observation_space}")
