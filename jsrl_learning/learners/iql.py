"""Implicit Q-Learning (Kostrikov et al., 2021) for continuous (Box) actions.

IQL never queries Q on actions outside the data: V is an upper expectile of the target Q
over dataset actions, Q regresses onto ``r + gamma V(s')``, and the actor is advantage-
weighted regression onto dataset actions. Offline pre-training and online fine-tuning
are the same ``update``; only the buffer it is fed from changes.

The actor is a Gaussian with a tanh-squashed mean and a learned state-independent log-std
(as in the IQL paper). Advantage-weighted regression is weighted maximum likelihood, and a
Gaussian gives online fine-tuning its own exploration noise, learned rather than scheduled;
``act(obs, explore=False)`` is the mean.

Reading order: config, networks, acting, the three losses, one update. Every loss reads the
networks as they were before the update (CORL's ordering: ``V(s')`` and the advantages come
from the old V and the old target critics), so an update is two independent halves: V and
actor, and the critics with their Polyak target. The losses call the networks as ``nets.value(obs)``;
:class:`~jsrl_learning.learners.fast_update.SplitUpdate` supplies them and does the Adam steps
and the Polyak update, eagerly, compiled or on two threads (docs/learner_speed.md).
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
from jsrl_learning.learners.fast_update import Half, Networks, SplitUpdate
from jsrl_learning.learners.networks import BoxScaler, EnsembleQ, batch_tensors, mlp, obs_tensor, seeded_init
from jsrl_learning.learners.td_config import TDConfig

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # the IQL paper's bounds on the actor's log-std
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
METRICS = ("q_loss", "v_loss", "actor_loss", "q_mean", "v_mean", "adv_mean")


@dataclass
class IQLConfig(TDConfig):
    """Defaults are the paper's (and JSRL's) AntMaze settings, except ``reward_shift``.

    ``reward_shift`` is added to every sampled batch's rewards before the TD target: IQL's
    D4RL AntMaze recipe uses -1 (0/1 goal rewards become -1/0). It is the learner's, not
    the env's, so datasets, replays and logged returns keep the task's own rewards.

    ``obs_mean``/``obs_std`` (``TDConfig``): CORL's IQL standardises with the offline dataset's
    statistics. AntMaze observations mix positions of +-10 m with joint angles and velocities;
    standardised, offline IQL learns to walk from the guide's data in far fewer updates.

    ``compile``: run the update through ``torch.compile`` once ``compile_after`` updates have
    run eagerly. Compiling costs tens of seconds once per process (less when inductor's disk
    cache has the graphs) and pays back within a few thousand updates, so short runs (and
    tests) never pay it. The compiled update keeps the settings it was compiled with: change
    the config before the first update, not during a run. ``update_threads: 2`` runs the two
    halves of an update at once on two threads: for a process that owns two cores and uses one
    torch thread; where every core already has a process, keep 1.
    """

    expectile: float = 0.9
    temperature: float = 10.0
    max_adv_weight: float = 100.0
    reward_shift: float = 0.0
    compile: bool = True
    compile_after: int = 2000
    update_threads: int = 1

    def validate(self, where: str) -> None:
        super().validate(where)
        require(0 < self.expectile < 1, where, f"expectile must be in (0, 1), got {self.expectile}")
        require(self.temperature >= 0, where, f"temperature must be >= 0, got {self.temperature}")
        require(self.max_adv_weight > 0, where, f"max_adv_weight must be > 0, got {self.max_adv_weight}")
        require(math.isfinite(self.reward_shift), where, f"reward_shift must be a finite number, got {self.reward_shift}")
        require(isinstance(self.compile, bool), where, f"compile must be true or false, got {self.compile!r}")
        require(isinstance(self.compile_after, int) and self.compile_after >= 0, where,
                f"compile_after must be an int >= 0, got {self.compile_after!r}")
        require(self.update_threads in (1, 2), where, f"update_threads must be 1 or 2, got {self.update_threads!r}")


class GaussianActor(nn.Module):
    """``N(tanh(f(s)), exp(log_std))`` over the unit action box; ``forward`` is the log-density."""

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

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
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
        config.validate("IQLLearner config")
        self.config = config
        self.obs_shape = observation_space.shape
        self.scaler = BoxScaler(action_space.low, action_space.high, "IQLLearner")
        obs_dim, act_dim = observation_space.shape[0], action_space.shape[0]
        self._obs_stats: tuple[torch.Tensor, torch.Tensor] | None = None
        if config.obs_mean is not None:
            if len(config.obs_mean) != obs_dim:
                raise ConfigError(f"IQLLearner: obs_mean/obs_std have {len(config.obs_mean)} entries, "
                                  f"the observation space {obs_dim}")
            self._obs_stats = (torch.tensor(config.obs_mean, dtype=torch.float32),
                               torch.tensor(config.obs_std, dtype=torch.float32).reciprocal())
        init_seed, act_seed = np.random.SeedSequence(config.seed).generate_state(2)
        with seeded_init(int(init_seed)):
            self.actor = GaussianActor(obs_dim, act_dim, config.hidden)
            self.value = mlp(obs_dim, 1, config.hidden)
            self.critic = EnsembleQ(obs_dim, act_dim, config.hidden, n=2)  # twin Q as one batched module
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.act_generator = torch.Generator().manual_seed(int(act_seed))
        self.update_rule = self._update_rule()

    @property
    def updates(self) -> int:
        return self.update_rule.updates

    def _standardise(self, obs: torch.Tensor) -> torch.Tensor:
        if self._obs_stats is None:
            return obs
        mean, inv_std = self._obs_stats
        return (obs - mean) * inv_std

    # --- acting ---------------------------------------------------------------------------

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        """Sample from the Gaussian (clipped to the bounds) when exploring, else its mean."""
        x, single = obs_tensor(obs, self.obs_shape)
        with torch.inference_mode():
            action = self.actor.mean(self._standardise(x.float()))
            if explore:
                noise = torch.randn(action.shape, generator=self.act_generator)
                action = torch.addcmul(action, self.actor.std(), noise).clamp_(-1.0, 1.0)
            action = self.scaler.to_env(action).numpy()
        return action[0] if single else action

    # --- the three losses -----------------------------------------------------------------

    def value_loss(self, nets: Networks, obs: torch.Tensor,
                   actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Expectile regression of V(s) onto ``min_j Q'_j(s, a)`` over dataset actions.
        Returns the loss, the advantages ``Q' - V`` and V. The target critics are only read
        (``nets`` holds them as constants), so no gradient reaches them."""
        target_q = nets.critic_target(obs, actions).amin(0)
        v = nets.value(obs).squeeze(-1)
        adv = target_q - v
        expectile_weight = torch.where(adv > 0, self.config.expectile, 1.0 - self.config.expectile)
        return (expectile_weight * adv.square()).mean(), adv, v

    def critic_loss(self, nets: Networks, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                    next_obs: torch.Tensor, terminals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Twin Q regression onto ``r + reward_shift + gamma (1 - terminal) V(s')``.
        Metrics: ``[q_loss, q_mean]``."""
        cfg = self.config
        with torch.no_grad():
            next_v = nets.value(next_obs).squeeze(-1)
            q_target = rewards + cfg.reward_shift + cfg.gamma * (1.0 - terminals) * next_v
        qs = nets.critic(obs, actions)
        q_loss = (qs - q_target).square().mean()
        return q_loss, torch.stack([q_loss, qs.mean()]).detach()

    def actor_loss(self, nets: Networks, obs: torch.Tensor, actions: torch.Tensor,
                   adv: torch.Tensor) -> torch.Tensor:
        """Advantage-weighted regression: the dataset actions' log-likelihood weighted by
        ``exp(temperature * A)``, capped at ``max_adv_weight``."""
        cfg = self.config
        adv_weight = torch.exp(cfg.temperature * adv.detach()).clamp(max=cfg.max_adv_weight)
        return -(adv_weight * nets.actor(obs, actions)).mean()

    def value_and_actor_loss(self, nets: Networks, obs: torch.Tensor, actions: torch.Tensor,
                             *_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The V and actor losses, which share the advantages. Metrics:
        ``[v_loss, actor_loss, v_mean, adv_mean]``."""
        v_loss, adv, v = self.value_loss(nets, obs, actions)
        actor_loss = self.actor_loss(nets, obs, actions, adv)
        return v_loss + actor_loss, torch.stack([v_loss, actor_loss, v.mean(), adv.mean()]).detach()

    # --- one update -----------------------------------------------------------------------

    def _update_rule(self) -> SplitUpdate:
        """An update is two halves, both from the networks as they were before it: one Adam step
        on V and the actor from ``value_and_actor_loss``; one on the critics from ``critic_loss``,
        then ``critic_target <- lerp(critic_target, critic, tau)``."""
        cfg = self.config
        return SplitUpdate(
            {"actor": self.actor, "value": self.value, "critic": self.critic, "critic_target": self.critic_target},
            [Half(self.value_and_actor_loss, trains=("value", "actor"), reads=("critic_target",)),
             Half(self.critic_loss, trains=("critic",), reads=("value",), polyak=("critic_target", "critic"))],
            lr=cfg.lr, tau=cfg.tau, compile=cfg.compile, compile_after=cfg.compile_after, owner="IQLLearner")

    def update(self, batch: Batch) -> dict[str, float]:
        # Contiguous float32: a compiled graph assumes the dtypes and strides it was traced with.
        tensors = [t.float().contiguous() for t in batch_tensors(batch, self.scaler)]
        obs, actions, rewards, next_obs, terminals = tensors
        value_actor_metrics, critic_metrics = self.update_rule(
            (self._standardise(obs), actions, rewards, self._standardise(next_obs), terminals),
            threads=self.config.update_threads)
        q_loss, q_mean = critic_metrics.tolist()
        v_loss, actor_loss, v_mean, adv_mean = value_actor_metrics.tolist()
        return dict(zip(METRICS, (q_loss, v_loss, actor_loss, q_mean, v_mean, adv_mean)))

    # --- checkpoints ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy), loadable with ``torch.load(weights_only=True)``."""
        return copy.deepcopy({
            "actor": self.actor.state_dict(), "value": self.value.state_dict(),
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "optimizer": self.update_rule.adam, "act_generator": self.act_generator.get_state(),
            "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Loads :meth:`state_dict`'s snapshots, and those of the earlier learner with one
        ``torch.optim.Adam`` over the actor's, V's and the critics' parameters."""
        for name in ("actor", "value", "critic", "critic_target"):
            getattr(self, name).load_state_dict(state[name])  # copies into the flat tensors
        self.update_rule.load_adam(state["optimizer"], torch_adam_order=("actor", "value", "critic"))
        self.act_generator.set_state(state["act_generator"])
        self.update_rule.updates = state["updates"]
