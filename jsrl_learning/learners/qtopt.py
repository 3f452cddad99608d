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

What makes it learn from sparse 0/1 rewards (docs/grasping_results.md has the ablation):

* ``q_output: sigmoid`` bounds Q in (0, 1) and trains it with cross-entropy against targets
  clipped to [0, 1], as the QT-Opt paper does; an unbounded regression lets CEM chase values
  no policy can reach.
* ``close_dim``: an action whose ``close_dim`` entry is > 0 ends the episode (the grasp env's
  close-and-lift) and the env ignores its other entries. CEM would maximise the critic's noise
  over those ignored entries and learn to close early, so closing is one discrete branch: the
  canonical close (0 everywhere, +1 at ``close_dim``) is scored once, CEM searches the moves
  (``close_dim`` held at -1), the better one wins, and stored close actions are canonicalised.
* ``standardize_obs``: state observations are standardised with fixed statistics, from
  ``obs_mean``/``obs_std`` or else fitted once on the replay before the first update.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping, require
from jsrl_learning.learners.base import Learner
from jsrl_learning.learners.cem import CEMConfig, cem_maximize
from jsrl_learning.learners.encoders import VectorEncoder, make_encoder
from jsrl_learning.learners.networks import (
    BoxScaler, EnsembleQ, batch_tensors, make_adam, obs_shape_of, obs_tensor, seeded_init, soft_update,
)
from jsrl_learning.learners.td_config import TDConfig


Q_OUTPUTS = ("sigmoid", "linear")
FIT_MAX_OBS = 50_000  # observations the standardisation is fitted on (a random subset beyond)


@dataclass
class QTOptConfig(TDConfig):
    """``gamma`` 0.9 is QT-Opt's grasping discount; ``tau`` 0.005 suits ~100k-step runs (the
    paper's 0.9999 Polyak constant assumed millions of updates). ``cem`` picks actions;
    ``target_cem`` (default: the same settings) finds ``argmax_a Q'(s', a)`` for targets.
    ``q_output``, ``close_dim``, ``standardize_obs``: see the module docstring."""

    gamma: float = 0.9
    cem: CEMConfig = field(default_factory=CEMConfig)
    target_cem: CEMConfig | None = None
    epsilon: float = 0.1
    noise_std: float = 0.1
    q_output: str = "sigmoid"
    close_dim: int | None = None
    standardize_obs: bool = True

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.q_output in Q_OUTPUTS, where, f"q_output must be one of {Q_OUTPUTS}, got {self.q_output!r}")
        require(self.close_dim is None or (isinstance(self.close_dim, int) and self.close_dim >= 0), where,
                f"close_dim must be an action index >= 0 or null, got {self.close_dim!r}")
        require(isinstance(self.standardize_obs, bool), where,
                f"standardize_obs must be true or false, got {self.standardize_obs!r}")
        require(self.standardize_obs or self.obs_mean is None, where,
                "obs_mean/obs_std are given but standardize_obs is false")
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
        act_dim = action_space.shape[0]
        if config.close_dim is not None and config.close_dim >= act_dim:
            raise ConfigError(f"QTOptLearner: close_dim {config.close_dim} is not an index of the {act_dim}-D actions")
        self.config = config
        self.obs_shape = obs_shape_of(observation_space)
        self.scaler = BoxScaler(action_space.low, action_space.high, "QTOptLearner")
        self.unit_low, self.unit_high = -torch.ones(act_dim), torch.ones(act_dim)
        self.move_low, self.move_high, self.close_action = self.unit_low, self.unit_high, None
        if config.close_dim is not None:  # CEM searches moves only; closing is one canonical action
            self.move_high = self.unit_high.clone()
            self.move_high[config.close_dim] = -1.0
            self.close_action = torch.zeros(act_dim)
            self.close_action[config.close_dim] = 1.0
        init_seed, act_seed, update_seed = np.random.SeedSequence(config.seed).generate_state(3)
        with seeded_init(int(init_seed)):
            self.critic = Critic(observation_space, act_dim, config.hidden, "QTOptLearner")
        self.standardizes = config.standardize_obs and isinstance(self.critic.encoder, VectorEncoder)
        self.obs_fitted = False
        if config.obs_mean is not None:
            if not self.standardizes or len(config.obs_mean) != self.critic.encoder.out_dim:
                raise ConfigError(f"QTOptLearner: obs_mean/obs_std standardise state vectors of "
                                  f"{getattr(self.critic.encoder, 'out_dim', '?')} entries; got {len(config.obs_mean)} "
                                  f"for {observation_space}")
            self._set_statistics(np.asarray(config.obs_mean), np.asarray(config.obs_std))
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.optimizer = make_adam(self.critic.parameters(), config.lr)
        # Separate streams: acting (in the policy node) and updating (in the learner) stay
        # reproducible each on its own, whatever the interleaving.
        self.act_generator = torch.Generator().manual_seed(int(act_seed))
        self.update_generator = torch.Generator().manual_seed(int(update_seed))
        self.updates = 0

    # --- observation statistics ---------------------------------------------------------

    def fit_observations(self, obs: np.ndarray, rng: np.random.Generator) -> None:
        """Fix the standardisation from data, once, before the first update (no-op when set)."""
        if not self.standardizes or self.obs_fitted:
            return
        obs = np.asarray(obs, dtype=np.float32)
        if len(obs) > FIT_MAX_OBS:
            obs = obs[rng.choice(len(obs), FIT_MAX_OBS, replace=False)]
        self._set_statistics(obs.mean(axis=0), obs.std(axis=0))
        self.critic_target.encoder.load_state_dict(self.critic.encoder.state_dict())

    def _set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.critic.encoder.set_statistics(mean, std)
        self.obs_fitted = True

    # --- acting --------------------------------------------------------------------------

    def _argmax(self, critic: Critic, first_state_part: torch.Tensor, cem: CEMConfig,
                generator: torch.Generator) -> torch.Tensor:
        """``argmax_a Q_1(s, a)`` in the unit box, given the first critic's state half ``[1, B, H]``:
        CEM over the moves, and the canonical close where it scores higher."""
        def score(a: torch.Tensor) -> torch.Tensor:
            return critic.q.score(first_state_part, a, member=0)[0]

        batch = first_state_part.shape[1]
        actions, best = cem_maximize(score, batch, self.move_low, self.move_high,
                                     cem.n_samples, cem.n_iters, cem.n_elites, generator)
        if self.close_action is None:
            return actions
        close = self.close_action.expand(batch, 1, -1)
        return torch.where((score(close)[:, 0] > best).unsqueeze(1), close[:, 0], actions)

    def canonical(self, actions: torch.Tensor) -> torch.Tensor:
        """Unit-box actions with every close replaced by the canonical close (identity without ``close_dim``)."""
        if self.close_action is None:
            return actions
        closing = actions[:, self.config.close_dim] > 0.0
        return torch.where(closing.unsqueeze(1), self.close_action, actions)

    def act(self, obs: Any, explore: bool = True) -> np.ndarray:
        """CEM's ``argmax_a Q_1(s, a)``; exploring, a uniform action with probability ``epsilon``,
        else that action plus Gaussian noise, clipped to the bounds."""
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

    # --- learning ------------------------------------------------------------------------

    def td_target(self, next_obs: Any, rewards: torch.Tensor, terminals: torch.Tensor) -> torch.Tensor:
        """``r + gamma (1 - terminal) min_j Q'_j(s', a*)`` with ``a* = argmax_a Q'_1(s', a)`` (CEM on
        the target critics). With sigmoid Q the values are probabilities (Q* of 0/1 rewards lies in
        [0, 1]) and the target is clipped to [0, 1]."""
        cfg = self.config
        state_part = self.critic_target.state_part(next_obs)  # computed once, scored for every candidate
        next_actions = self._argmax(self.critic_target, state_part[:1], cfg.target_cem or cfg.cem,
                                    self.update_generator)
        next_q = self.critic_target.q.score(state_part, next_actions.unsqueeze(1)).amin(0).squeeze(1)
        if cfg.q_output == "linear":
            return rewards + cfg.gamma * (1.0 - terminals) * next_q
        return (rewards + cfg.gamma * (1.0 - terminals) * next_q.sigmoid()).clamp_(0.0, 1.0)

    def critic_loss(self, obs: Any, actions: torch.Tensor,
                    target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both critics against ``target``: cross-entropy on the logits (sigmoid Q) or the squared
        error (linear Q). Returns the loss and the critics' Q values."""
        logits = self.critic(obs, actions)
        if self.config.q_output == "linear":
            return (logits - target).square().mean(), logits
        return F.binary_cross_entropy_with_logits(logits, target.expand_as(logits)), logits.detach().sigmoid()

    def update(self, batch: Batch) -> dict[str, float]:
        """One Adam step of the critics on stored actions (closes canonicalised), then Polyak."""
        obs, actions, rewards, next_obs, terminals = batch_tensors(batch, self.scaler)
        with torch.no_grad():
            target = self.td_target(next_obs, rewards, terminals)
        q_loss, qs = self.critic_loss(obs, self.canonical(actions), target)
        self.optimizer.zero_grad(set_to_none=True)
        q_loss.backward()
        self.optimizer.step()
        soft_update(self.critic_target, self.critic, self.config.tau)
        self.updates += 1
        q_loss, q_mean, target_mean = torch.stack([q_loss.detach(), qs.mean(), target.mean()]).tolist()
        return {"q_loss": q_loss, "q_mean": q_mean, "target_mean": target_mean}

    # --- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy), loadable with ``torch.load(weights_only=True)``."""
        return copy.deepcopy({
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "act_generator": self.act_generator.get_state(),
            "update_generator": self.update_generator.get_state(),
            "updates": self.updates, "obs_fitted": self.obs_fitted,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.act_generator.set_state(state["act_generator"])
        self.update_generator.set_state(state["update_generator"])
        self.updates = state["updates"]
        self.obs_fitted = bool(state["obs_fitted"])
