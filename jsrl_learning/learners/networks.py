"""Network building blocks shared by learners and the BC guide."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A plain fully connected network: ``in_dim -> hidden... -> out_dim`` (no output activation)."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), activation()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging ``target <- (1 - tau) target + tau source``, in place, fused."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)
