"""Observation encoders: raw observation batch -> flat float features for the critics.

Image observations arrive as uint8 ``[B, H, W, C]`` (as the camera node and the replay
store them, 4x smaller than float) and are scaled to [0, 1] here, inside the network.
"""
from __future__ import annotations

import torch
from torch import nn


class VectorEncoder(nn.Module):
    """State vectors pass through unchanged (as float32)."""

    def __init__(self, obs_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(obs_shape) != 1:
            raise ValueError(f"VectorEncoder: state observations must be 1-D, got shape {obs_shape}")
        self.out_dim = obs_shape[0]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()


class ImageEncoder(nn.Module):
    """A small DQN-style CNN (8/4, 4/2, 3/1 convolutions) over uint8 HxWxC images."""

    def __init__(self, obs_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"ImageEncoder: image observations must be (H, W, C), got shape {obs_shape}")
        h, w, c = obs_shape
        if min(h, w) < 36:  # smallest side the three convolutions can reduce to >= 1 pixel
            raise ValueError(f"ImageEncoder: images must be at least 36x36, got {h}x{w}")
        self.net = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.out_dim = int(self.net(torch.zeros(1, c, h, w)).shape[1])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.permute(0, 3, 1, 2).float().div_(255.0))


def make_encoder(kind: str, obs_shape: tuple[int, ...]) -> VectorEncoder | ImageEncoder:
    """``kind`` is ``"state"`` or ``"image"`` (the learner configs' ``obs`` field)."""
    if kind == "state":
        return VectorEncoder(obs_shape)
    if kind == "image":
        return ImageEncoder(obs_shape)
    raise ValueError(f"unknown observation kind {kind!r}; known: 'image', 'state'")
