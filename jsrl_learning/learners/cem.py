"""Cross-entropy method: a derivative-free argmax over a box, batched over states.

QT-Opt has no actor: the greedy action is ``argmax_a Q(s, a)``, found by sampling actions
from a Gaussian, keeping the best (the elites) and refitting the Gaussian to them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from jsrl_learning.config import require


@dataclass
class CEMConfig:
    """QT-Opt's defaults: 64 samples, 2 iterations, 6 elites."""

    n_samples: int = 64
    n_iters: int = 2
    n_elites: int = 6

    def validate(self, where: str) -> None:
        for key in ("n_samples", "n_iters", "n_elites"):
            value = getattr(self, key)
            require(isinstance(value, int) and value > 0, where,
                    f"{key} must be a positive int, got {value!r}")
        require(self.n_elites <= self.n_samples, where,
                f"n_elites must be <= n_samples ({self.n_samples}), got {self.n_elites}")


def cem_maximize(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    action_low: torch.Tensor,
    action_high: torch.Tensor,
    n_samples: int = 64,
    n_iters: int = 2,
    n_elites: int = 6,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise ``score_fn`` over ``[action_low, action_high]`` for ``batch_size`` problems at once.

    ``score_fn`` maps candidate actions ``[B, N, act_dim]`` to scores ``[B, N]``. The search
    starts from a Gaussian centred in the box with the half-width as its spread; samples are
    clipped to the box. Returns the best sampled action of each problem ``[B, act_dim]`` and
    its score ``[B]``: the score comes for free, so a caller computing ``max_a Q`` needs no
    second forward pass.
    """
    CEMConfig(n_samples, n_iters, n_elites).validate("cem_maximize")
    act_dim = action_low.shape[-1]
    mean = ((action_low + action_high) / 2).expand(batch_size, act_dim)
    std = ((action_high - action_low) / 2).expand(batch_size, act_dim)
    best_scores = torch.full((batch_size,), -torch.inf)
    best_actions = mean
    for it in range(n_iters):
        noise = torch.randn(batch_size, n_samples, act_dim, generator=generator)
        samples = torch.addcmul(mean.unsqueeze(1), std.unsqueeze(1), noise)
        samples = torch.clamp(samples, action_low, action_high)
        top_scores, top_idx = score_fn(samples).topk(n_elites, dim=1)
        elites = samples.gather(1, top_idx.unsqueeze(-1).expand(-1, -1, act_dim))
        better = top_scores[:, 0] > best_scores
        best_scores = torch.where(better, top_scores[:, 0], best_scores)
        best_actions = torch.where(better.unsqueeze(1), elites[:, 0], best_actions)
        if it + 1 < n_iters:
            std, mean = torch.std_mean(elites, dim=1, correction=0)
    return best_actions, best_scores
