"""Implicit Q-Learning (Kostrikov et al., 2021) for continuous (Box) actions.

IQL never queries Q on actions outside the data: V is an upper expectile of the target Q
over dataset actions, Q regresses onto ``r + gamma V(s')``, and the actor is advantage-
weighted regression onto dataset actions. Offline pre-training and online fine-tuning
are the same ``update``; only the buffer it is fed from changes.

The actor is a Gaussian with a tanh-squashed mean and a learned state-independent log-std
(as in the IQL paper). Advantage-weighted regression is weighted maximum likelihood, and a
Gaussian gives online fine-tuning its own exploration noise, learned rather than scheduled;
``act(obs, explore=False)`` is the mean.

Efficiency: the twin critics are one batched module, and the three losses touch disjoint
parameters (advantages and the bootstrap V(s') are detached), so one backward pass and one
fused Adam step give the same update as three separate optimisers.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, require
from jsrl_learning.learners.base import Learner
from jsrl_learning.learners.networks import (
    BoxScaler, EnsembleQ, batch_tensors, make_adam, mlp, obs_tensor, seeded_init, soft_update,
)
from jsrl_learning.learners.td_config import TDConfig

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # the IQL paper's bounds on the actor's log-std
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class IQLConfig(TDConfig):
    """Defaults are the paper's (and JSRL's) AntMaze settings, except ``reward_shift``.

    ``reward_shift`` is added to every sampled batch's rewards before the TD target: IQL's
    D4RL AntMaze recipe uses -1 (0/1 goal rewards become -1/0). It is the learner's, not
    the env's, so datasets, replays and logged returns keep the task's own rewards.
    """

    expectile: float = 0.9
    temperature: float = 10.0
    max_adv_weight: float = 100.0
    reward_shift: float = 0.0

    def validate(self, where: str) -> None:
        super().validate(where)
        require(0 < self.expectile < 1, where, f"expectile must be in (0, 1), got {self.expectile}")
        require(self.temperature >= 0, where, f"temperature must be >= 0, got {self.temperature}")
        require(self.max_adv_weight > 0, where, f"max_adv_weight must be > 0, got {self.max_adv_weight}")
        require(math.isfinite(self.reward_shift), where, f"reward_shift must be a finite number, got {self.reward_shift}")


class GaussianActor(nn.Module):
    """``N(tanh(f(s)), exp(log_std))`` over the unit action box."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: list[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))

    def clamped_log_std(self) -> torch.Tensor:
        return self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def std(self) -> torch.Tensor:
        return self.clamped_log_std().exp()

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Gaussian log-density, written out: ``torch.distributions``' checks cost more than the maths."""
        log_std = self.clamped_log_std()
        z = (actions - self.mean(obs)) * torch.exp(-log_std)
        return (-0.5 * z.square() - log_std - HALF_LOG_2PI).sum(-1)


class IQLLearner(Learner):
    """IQL over a Box observation vector and a bounded Box action space."""

    def __init__(self, config: IQLConfig, observation_space: gym.spaces.Box,
                 action_space: gym.spaces.Box) -> None:
        if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
            raise ConfigError(f"IQLLearner: observation space must be a 1-D Box, got {observation_space}")
        if not (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1):
            raise ConfigError(f"IQLLearner: action space must be a 1-D Box, got {action_space}")
        self.config = config
        self.obs_shape = observation_space.shape
        self.scaler = BoxScaler(action_space.low, action_space.high, "IQLLearner")
        obs_dim, act_dim = observation_space.shape[0], action_space.shape[0]
        init_seed, act_seed = np.random.SeedSequence(config.seed).generate_state(2)
        with seeded_init(int(init_seed)):
            self.actor = GaussianActor(obs_dim, act_dim, config.hidden)
            self.value = mlp(obs_dim, 1, config.hidden)
            self.critic = EnsembleQ(obs_dim, act_dim, config.hidden, n=2)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.optimizer = make_adam([*self.actor.parameters(), *self.value.parameters(),
                                    *self.critic.parameters()], config.lr)
        self.act_generator = torch.Generator().manual_seed(int(act_seed))
        self.updates = 0

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        """Sample from the Gaussian (clipped to the bounds) when exploring, else its mean."""
        x, single = obs_tensor(obs, self.obs_shape)
        with torch.inference_mode():
            action = self.actor.mean(x.float())
            if explore:
                noise = torch.randn(action.shape, generator=self.act_generator)
                action = torch.addcmul(action, self.actor.std(), noise).clamp_(-1.0, 1.0)
            action = self.scaler.to_env(action).numpy()
        return action[0] if single else action

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        obs, actions, rewards, next_obs, terminals = batch_tensors(batch, self.scaler)
        obs, next_obs = obs.float(), next_obs.float()
        with torch.no_grad():
            target_q = self.critic_target(obs, actions).min(0).values
            next_v = self.value(next_obs).squeeze(-1)
            q_target = rewards + cfg.reward_shift + cfg.gamma * (1.0 - terminals) * next_v

        v = self.value(obs).squeeze(-1)
        adv = target_q - v
        expectile_weight = torch.where(adv > 0, cfg.expectile, 1.0 - cfg.expectile)
        v_loss = (expectile_weight * adv.square()).mean()

        qs = self.critic(obs, actions)
        q_loss = (qs - q_target).square().mean()

        adv_weight = torch.exp(cfg.temperature * adv.detach()).clamp(max=cfg.max_adv_weight)
        actor_loss = -(adv_weight * self.actor.log_prob(obs, actions)).mean()

        self.optimizer.zero_grad(set_to_none=True)
        (v_loss + q_loss + actor_loss).backward()
        self.optimizer.step()
        soft_update(self.critic_target, self.critic, cfg.tau)
        self.updates += 1
        metrics = torch.stack([q_loss, v_loss, actor_loss, qs.mean(), v.mean(), adv.mean()]).tolist()
        return dict(zip(("q_loss", "v_loss", "actor_loss", "q_mean", "v_mean", "adv_mean"), metrics))

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy), loadable with ``torch.load(weights_only=True)``."""
        return copy.deepcopy({
            "actor": self.actor.state_dict(), "value": self.value.state_dict(),
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "act_generator": self.act_generator.get_state(), "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "value", "critic", "critic_target"):
            getattr(self, name).load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.act_generator.set_state(state["act_generator"])
        self.updates = state["updates"]
