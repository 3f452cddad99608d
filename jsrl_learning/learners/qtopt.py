"""QT-Opt (Kalashnikov et al., 2018): Q(s, a) with no actor, maximised by CEM.

As in the paper, the first critic picks actions and the minimum of the twins values them
(clipped double Q): the greedy action is CEM's ``argmax_a Q_1(s, a)``, and the bootstrap
target is ``r + gamma (1 - terminal) min_j Q'_j(s', a*)`` with ``a* = argmax_a Q'_1(s', a)``
found by CEM on the target critics. Searching one critic halves the cost of both hot paths.

Hot path: acting runs CEM over ~128 candidate actions per step, and every update runs it for
each next state of the batch. The critics' first layer is split so the state half (and the
CNN, for images) is computed once per observation; acting runs under ``inference_mode``.
``target_cem`` may search the targets' argmax with fewer samples than acting uses: that
search is most of an update's cost (``jsrl bench learner``, docs/learner_speed.md).

Observations: a state vector, a uint8 (H, W, C) image, or a Dict of one image and vectors
(image + proprioception); the encoder follows from the observation space.

Exploration (``act(obs, explore=True)``): with probability ``epsilon`` a uniformly random
action, else the CEM action plus Gaussian noise of ``noise_std`` (in units of half the
action range), clipped to the bounds.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping, require
from jsrl_learning.learners.base import Learner
from jsrl_learning.learners.cem import CEMConfig, cem_maximize
from jsrl_learning.learners.encoders import make_encoder
from jsrl_learning.learners.networks import (
    BoxScaler, EnsembleQ, batch_tensors, make_adam, obs_shape_of, obs_tensor, seeded_init, soft_update,
)
from jsrl_learning.learners.td_config import TDConfig


@dataclass
class QTOptConfig(TDConfig):
    """``gamma`` 0.9 is QT-Opt's grasping discount; ``tau`` 0.005 suits ~100k-step runs (the
    paper's 0.9999 Polyak constant assumed millions of updates). ``cem`` picks actions;
    ``target_cem`` (default: the same settings) finds ``argmax_a Q'(s', a)`` for targets."""

    gamma: float = 0.9
    cem: CEMConfig = field(default_factory=CEMConfig)
    target_cem: CEMConfig | None = None
    epsilon: float = 0.1
    noise_std: float = 0.1

    def validate(self, where: str) -> None:
        super().validate(where)
        require(0 <= self.epsilon <= 1, where, f"epsilon must be in [0, 1], got {self.epsilon}")
        require(self.noise_std >= 0, where, f"noise_std must be >= 0, got {self.noise_std}")
        require(isinstance(self.cem, CEMConfig), where, f"cem must be a mapping, got {self.cem!r}")
        self.cem.validate(f"{where}.cem")
        if isinstance(self.target_cem, Mapping):  # from_mapping leaves optional sections as mappings
            self.target_cem = from_mapping(CEMConfig, self.target_cem, f"{where}.target_cem")
        require(self.target_cem is None or isinstance(self.target_cem, CEMConfig), where,
                f"target_cem must be a mapping or null, got {self.target_cem!r}")
        if self.target_cem is not None:
            self.target_cem.validate(f"{where}.target_cem")


class Critic(nn.Module):
    """Observation encoder shared by twin Q heads (one batched ``EnsembleQ``)."""

    def __init__(self, observation_space: gym.Space, act_dim: int, hidden: list[int], where: str) -> None:
        super().__init__()
        self.encoder = make_encoder(observation_space, where)
        self.q = EnsembleQ(self.encoder.out_dim, act_dim, hidden, n=2)

    def state_part(self, obs: torch.Tensor, member: int | None = None) -> torch.Tensor:
        return self.q.state_part(self.encoder(obs), member)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.q(self.encoder(obs), actions)


class QTOptLearner(Learner):
    """QT-Opt over state vectors, uint8 (H, W, C) images or Dict(image, vectors), with a
    bounded Box action space."""

    def __init__(self, config: QTOptConfig, observation_space: gym.Space,
                 action_space: gym.spaces.Box) -> None:
        if not (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1):
            raise ConfigError(f"QTOptLearner: action space must be a 1-D Box, got {action_space}")
        self.config = config
        self.obs_shape = obs_shape_of(observation_space)
        self.scaler = BoxScaler(action_space.low, action_space.high, "QTOptLearner")
        act_dim = action_space.shape[0]
        self.unit_low, self.unit_high = -torch.ones(act_dim), torch.ones(act_dim)
        init_seed, act_seed, update_seed = np.random.SeedSequence(config.seed).generate_state(3)
        with seeded_init(int(init_seed)):
            self.critic = Critic(observation_space, act_dim, config.hidden, "QTOptLearner")
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.optimizer = make_adam(self.critic.parameters(), config.lr)
        # Separate streams: acting (in the policy node) and updating (in the learner) stay
        # reproducible each on its own, whatever the interleaving.
        self.act_generator = torch.Generator().manual_seed(int(act_seed))
        self.update_generator = torch.Generator().manual_seed(int(update_seed))
        self.updates = 0

    def _argmax(self, critic: Critic, first_state_part: torch.Tensor, cem: CEMConfig,
                generator: torch.Generator) -> torch.Tensor:
        """CEM's ``argmax_a Q_1(s, a)`` in the unit box, given the first critic's state half ``[1, B, H]``."""
        actions, _ = cem_maximize(lambda a: critic.q.score(first_state_part, a, member=0)[0],
                                  first_state_part.shape[1], self.unit_low, self.unit_high,
                                  cem.n_samples, cem.n_iters, cem.n_elites, generator)
        return actions

    def act(self, obs: Any, explore: bool = True) -> np.ndarray:
        x, single = obs_tensor(obs, self.obs_shape)
        with torch.inference_mode():
            action = self._argmax(self.critic, self.critic.state_part(x, member=0), self.config.cem,
                                  self.act_generator)
            if explore:
                gen, cfg = self.act_generator, self.config
                noisy = action + cfg.noise_std * torch.randn(action.shape, generator=gen)
                uniform = torch.rand(action.shape, generator=gen) * 2.0 - 1.0
                take_random = torch.rand(action.shape[0], 1, generator=gen) < cfg.epsilon
                action = torch.where(take_random, uniform, noisy).clamp_(-1.0, 1.0)
            action = self.scaler.to_env(action).numpy()
        return action[0] if single else action

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        obs, actions, rewards, next_obs, terminals = batch_tensors(batch, self.scaler)
        with torch.no_grad():
            state_part = self.critic_target.state_part(next_obs)
            next_actions = self._argmax(self.critic_target, state_part[:1], cfg.target_cem or cfg.cem,
                                        self.update_generator)
            next_q = self.critic_target.q.score(state_part, next_actions.unsqueeze(1)).amin(0).squeeze(1)
            target = rewards + cfg.gamma * (1.0 - terminals) * next_q
        qs = self.critic(obs, actions)
        q_loss = (qs - target).square().mean()
        self.optimizer.zero_grad(set_to_none=True)
        q_loss.backward()
        self.optimizer.step()
        soft_update(self.critic_target, self.critic, cfg.tau)
        self.updates += 1
        q_loss, q_mean, target_mean = torch.stack([q_loss, qs.mean(), target.mean()]).tolist()
        return {"q_loss": q_loss, "q_mean": q_mean, "target_mean": target_mean}

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy), loadable with ``torch.load(weights_only=True)``."""
        return copy.deepcopy({
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "act_generator": self.act_generator.get_state(),
            "update_generator": self.update_generator.get_state(),
            "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.act_generator.set_state(state["act_generator"])
        self.update_generator.set_state(state["update_generator"])
        self.updates = state["updates"]
