"""Network building blocks shared by learners and the BC guide."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence, Union

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.buffers import Batch, Obs, ObsShape


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


class EnsembleLinear(nn.Module):
    """``n`` independent linear layers applied as one batched matmul.

    Twin critics as one module: one kernel launch per layer instead of one per critic, and one
    parameter tensor per layer for the fused optimiser and Polyak update. Input ``[n, M, in]``,
    or ``[M, in]`` shared by all members; output ``[n, M, out]``.
    """

    def __init__(self, n: int, in_dim: int, out_dim: int, bias: bool = True,
                 fan_in: int | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in or in_dim)  # nn.Linear's default init, per member
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor, member: int | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
        """All members, or only ``member`` (output ``[1, M, out]``); written into ``out`` if given."""
        weight, bias = self.weight, self.bias
        if member is not None:
            weight = weight[member:member + 1]
            bias = None if bias is None else bias[member:member + 1]
        if x.dim() == 2:
            x = x.expand(weight.shape[0], *x.shape)
        return torch.bmm(x, weight, out=out) if bias is None else torch.baddbmm(bias, x, weight, out=out)


class EnsembleQ(nn.Module):
    """``n`` critics Q(s, a) sharing nothing but their input, evaluated as one batched MLP.

    The first layer is split into a state half and an action half so that scoring many
    candidate actions for one state (CEM) computes the state half once per state.

    Without autograd (CEM's searches) hidden activations go to storage kept between calls:
    a CEM iteration over a batch of 256 next states makes 16 MB activations, and fresh ones
    cost page faults that measured about a third of a QT-Opt update. So concurrent
    no-grad calls on one instance from several threads are not allowed.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], n: int = 2) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("EnsembleQ: hidden must have at least one layer")
        fan_in = obs_dim + act_dim
        self.obs_in = EnsembleLinear(n, obs_dim, hidden[0], fan_in=fan_in)
        self.act_in = EnsembleLinear(n, act_dim, hidden[0], bias=False, fan_in=fan_in)
        dims = [*hidden, 1]
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self._scratch: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def state_part(self, obs: torch.Tensor, member: int | None = None) -> torch.Tensor:
        """``[B, obs_dim] -> [n, B, hidden0]``: the pre-activation contribution of the state.

        With ``member``, only that critic's (``n`` = 1), e.g. to search actions on one critic.
        """
        return self.obs_in(obs, member)

    def score(self, state_part: torch.Tensor, actions: torch.Tensor,
              member: int | None = None) -> torch.Tensor:
        """Q of ``actions [B, N, act_dim]`` given ``state_part`` of their states: ``[n, B, N]``."""
        n, b, width = state_part.shape
        m = actions.shape[1]
        h = self.act_in(actions.reshape(b * m, -1), member, self._hidden_out(0, (n, b * m, width), state_part))
        h = h.view(n, b, m, width).add_(state_part.unsqueeze(2)).relu_().view(n, b * m, width)
        for i, layer in enumerate(self.layers[:-1], start=1):
            h = layer(h, member, self._hidden_out(i, (n, b * m, layer.weight.shape[2]), h)).relu_()
        return self.layers[-1](h, member).view(n, b, m)

    def _hidden_out(self, slot: int, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor | None:
        """Reused storage for hidden activation ``slot`` when no gradient is recorded, else None."""
        if torch.is_grad_enabled():
            return None
        key = (slot, shape)
        if key not in self._scratch:
            with torch.inference_mode(False):  # a normal tensor: writable under no_grad and inference_mode alike
                self._scratch[key] = like.new_empty(shape)
        return self._scratch[key]

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q of one action per state, every critic: ``[B, obs_dim], [B, act_dim] -> [n, B]``."""
        return self.score(self.state_part(obs), actions.unsqueeze(1)).squeeze(2)


def make_adam(params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one multi-tensor step on CPU), else the foreach one."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except RuntimeError:  # fused unsupported by this torch build/device
        return torch.optim.Adam(params, lr=lr, foreach=True)


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build networks from ``seed`` without disturbing (or depending on) the global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class BoxScaler:
    """Affine map between a bounded Box action space and the unit box [-1, 1]^d.

    Learners work in the unit box so that tanh heads, noise scales and CEM's initial spread
    mean the same thing for every robot's action bounds.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, where: str) -> None:
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ValueError(f"{where}: action bounds must be finite with high > low, got {low} .. {high}")
        self.center = torch.as_tensor((high + low) / 2, dtype=torch.float32)
        self.half = torch.as_tensor((high - low) / 2, dtype=torch.float32)

    def to_unit(self, actions: torch.Tensor) -> torch.Tensor:
        return ((actions - self.center) / self.half).clamp_(-1.0, 1.0)

    def to_env(self, unit: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.center, self.half, unit)


ObsTensor = Union[torch.Tensor, dict[str, torch.Tensor]]


def obs_shape_of(space: gym.Space) -> ObsShape:
    """The shape :func:`obs_tensor` checks against: the space's, or key -> shape for a Dict."""
    if isinstance(space, gym.spaces.Dict):
        return {k: s.shape for k, s in space.spaces.items()}
    return space.shape


def obs_tensor(obs: Any, obs_shape: ObsShape) -> tuple[ObsTensor, bool]:
    """One observation or a batch of them as a batched tensor (dtype kept: images stay uint8).

    ``obs_shape`` is the space's shape, or key -> shape for a Dict space (``obs`` then is a
    dict and so is the result). Returns the tensor(s) and whether the input was a single
    observation.
    """
    if isinstance(obs_shape, Mapping):
        if not isinstance(obs, Mapping) or set(obs) != set(obs_shape):
            got = f"keys {sorted(obs)}" if isinstance(obs, Mapping) else f"a {type(obs).__name__}"
            raise ValueError(f"observation must be a dict with keys {sorted(obs_shape)}, got {got}")
        parts = {k: obs_tensor(obs[k], shape) for k, shape in obs_shape.items()}
        singles = {single for _, single in parts.values()}
        if len(singles) > 1:
            raise ValueError("observation entries mix single observations and batches")
        return {k: x for k, (x, _) in parts.items()}, singles.pop()
    x = torch.as_tensor(np.asarray(obs))
    single = x.dim() == len(obs_shape)
    if tuple(x.shape if single else x.shape[1:]) != tuple(obs_shape):
        raise ValueError(f"observation shape {tuple(x.shape)} does not match the space's {obs_shape}")
    return (x.unsqueeze(0) if single else x), single


def as_tensor_obs(obs: Obs) -> ObsTensor:
    """An observation batch as tensor(s) sharing the arrays' memory."""
    if isinstance(obs, Mapping):
        return {k: torch.as_tensor(v) for k, v in obs.items()}
    return torch.as_tensor(obs)


def batch_tensors(batch: Batch, scaler: BoxScaler) -> tuple[Any, ...]:
    """``(obs, unit actions, rewards, next_obs, terminals)`` as tensors, without copying observations."""
    return (as_tensor_obs(batch.obs),
            scaler.to_unit(torch.as_tensor(batch.actions, dtype=torch.float32)),
            torch.as_tensor(batch.rewards, dtype=torch.float32),
            as_tensor_obs(batch.next_obs),
            torch.as_tensor(batch.terminals, dtype=torch.float32))
