"""Straightforward PyTorch IQL and QT-Opt: the yardstick ``jsrl bench learner`` measures against.

The same maths as :mod:`jsrl_learning.learners.iql` and :mod:`jsrl_learning.learners.qtopt`,
written the way a reference implementation (CORL's IQL) writes it: separate twin critics,
one default Adam per network group, a Python loop for the Polyak update, a
``torch.distributions`` Gaussian, and for QT-Opt a critic that scores every CEM candidate
with the full network on ``concat(features, action)``. Nothing here is tuned; it exists so
that speed-ups are reported against a fixed, honest baseline.

:meth:`ReferenceIQL.from_learner` / :meth:`ReferenceQTOpt.from_learner` copy a project
learner's weights (and generator state), so tests can check that both compute the same
losses on a fixed batch.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from jsrl_learning.buffers import Batch
from jsrl_learning.learners.cem import cem_maximize
from jsrl_learning.learners.iql import LOG_STD_MAX, LOG_STD_MIN, IQLConfig, IQLLearner
from jsrl_learning.learners.networks import BoxScaler, EnsembleQ, batch_tensors, mlp
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner


def polyak(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) target + tau source``, one parameter at a time."""
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.mul_(1.0 - tau).add_(s, alpha=tau)


def load_ensemble_member(net: nn.Sequential, ensemble: EnsembleQ, member: int) -> None:
    """Copy critic ``member`` of a batched :class:`EnsembleQ` into a plain ``mlp(obs+act, 1)``.

    EnsembleQ stores ``[n, in, out]`` weights with the first layer split into a state and an
    action half; ``nn.Linear`` stores ``[out, in]`` over ``concat(obs, action)``.
    """
    linears = [m for m in net if isinstance(m, nn.Linear)]
    first = torch.cat([ensemble.obs_in.weight[member], ensemble.act_in.weight[member]], dim=0)
    with torch.no_grad():
        linears[0].weight.copy_(first.T)
        linears[0].bias.copy_(ensemble.obs_in.bias[member, 0])
        for linear, layer in zip(linears[1:], ensemble.layers):
            linear.weight.copy_(layer.weight[member].T)
            linear.bias.copy_(layer.bias[member, 0])


class ReferenceIQL:
    """IQL as CORL writes it: V step, then Q step and Polyak, then the actor step.

    Every loss uses the networks as they were before this update (``next_v`` and the
    advantages are computed up front), exactly like the project's single-backward update.
    """

    def __init__(self, config: IQLConfig, obs_dim: int, act_dim: int, scaler: BoxScaler) -> None:
        self.config, self.scaler = config, scaler
        self.actor = mlp(obs_dim, act_dim, config.hidden)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.value = mlp(obs_dim, 1, config.hidden)
        self.q1 = mlp(obs_dim + act_dim, 1, config.hidden)
        self.q2 = mlp(obs_dim + act_dim, 1, config.hidden)
        self.q1_target = copy.deepcopy(self.q1).requires_grad_(False)
        self.q2_target = copy.deepcopy(self.q2).requires_grad_(False)
        self.v_optimizer = torch.optim.Adam(self.value.parameters(), lr=config.lr)
        self.q_optimizer = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=config.lr)
        self.actor_optimizer = torch.optim.Adam([*self.actor.parameters(), self.log_std], lr=config.lr)

    @classmethod
    def from_learner(cls, learner: IQLLearner) -> "ReferenceIQL":
        """A reference starting from ``learner``'s current weights (optimiser state fresh)."""
        obs_dim, act_dim = learner.obs_shape[0], learner.scaler.center.shape[0]
        ref = cls(learner.config, obs_dim, act_dim, learner.scaler)
        with torch.no_grad():
            ref.actor.load_state_dict(learner.actor.net.state_dict())
            ref.log_std.copy_(learner.actor.log_std)
            ref.value.load_state_dict(learner.value.state_dict())
        for member, (q, q_target) in enumerate(((ref.q1, ref.q1_target), (ref.q2, ref.q2_target))):
            load_ensemble_member(q, learner.critic, member)
            load_ensemble_member(q_target, learner.critic_target, member)
        return ref

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        obs, actions, rewards, next_obs, terminals = batch_tensors(batch, self.scaler)
        obs, next_obs = obs.float(), next_obs.float()
        obs_actions = torch.cat([obs, actions], dim=1)
        with torch.no_grad():
            target_q = torch.min(self.q1_target(obs_actions), self.q2_target(obs_actions)).squeeze(-1)
            next_v = self.value(next_obs).squeeze(-1)

        v = self.value(obs).squeeze(-1)
        adv = target_q - v
        weight = torch.abs(cfg.expectile - (adv < 0).float())
        v_loss = torch.mean(weight * adv ** 2)
        self.v_optimizer.zero_grad()
        v_loss.backward()
        self.v_optimizer.step()

        targets = rewards + cfg.reward_shift + cfg.gamma * (1.0 - terminals) * next_v
        q1, q2 = self.q1(obs_actions).squeeze(-1), self.q2(obs_actions).squeeze(-1)
        q_loss = (nn.functional.mse_loss(q1, targets) + nn.functional.mse_loss(q2, targets)) / 2
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()
        polyak(self.q1_target, self.q1, cfg.tau)
        polyak(self.q2_target, self.q2, cfg.tau)

        exp_adv = torch.exp(cfg.temperature * adv.detach()).clamp(max=cfg.max_adv_weight)
        std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        policy = torch.distributions.Normal(torch.tanh(self.actor(obs)), std)
        actor_loss = torch.mean(exp_adv * -policy.log_prob(actions).sum(-1))
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        return {"q_loss": q_loss.item(), "v_loss": v_loss.item(), "actor_loss": actor_loss.item()}


class ReferenceQTOpt:
    """QT-Opt with two separate critic heads on one encoder; CEM scores every candidate with
    the full head on ``concat(features, action)`` (features repeated per candidate)."""

    def __init__(self, config: QTOptConfig, encoder: nn.Module, act_dim: int, scaler: BoxScaler,
                 generator: torch.Generator) -> None:
        self.config, self.scaler, self.generator = config, scaler, generator
        self.encoder = encoder
        self.q1 = mlp(encoder.out_dim + act_dim, 1, config.hidden)
        self.q2 = mlp(encoder.out_dim + act_dim, 1, config.hidden)
        self.encoder_target = copy.deepcopy(encoder).requires_grad_(False)
        self.q1_target = copy.deepcopy(self.q1).requires_grad_(False)
        self.q2_target = copy.deepcopy(self.q2).requires_grad_(False)
        self.optimizer = torch.optim.Adam([*encoder.parameters(), *self.q1.parameters(),
                                           *self.q2.parameters()], lr=config.lr)
        self.unit_low, self.unit_high = -torch.ones(act_dim), torch.ones(act_dim)
        self.move_high = self.unit_high.clone()
        if config.close_dim is not None:
            self.move_high[config.close_dim] = -1.0

    @classmethod
    def from_learner(cls, learner: QTOptLearner) -> "ReferenceQTOpt":
        """A reference starting from ``learner``'s weights and target-search generator state."""
        generator = torch.Generator()
        generator.set_state(learner.update_generator.get_state())
        ref = cls(learner.config, copy.deepcopy(learner.critic.encoder), learner.scaler.center.shape[0],
                  learner.scaler, generator)
        ref.encoder_target.load_state_dict(learner.critic_target.encoder.state_dict())
        for member, (q, q_target) in enumerate(((ref.q1, ref.q1_target), (ref.q2, ref.q2_target))):
            load_ensemble_member(q, learner.critic.q, member)
            load_ensemble_member(q_target, learner.critic_target.q, member)
        return ref

    @staticmethod
    def _score(q: nn.Module, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q of ``actions [B, N, act]`` for ``features [B, F]``: ``[B, N]``."""
        repeated = features.unsqueeze(1).expand(-1, actions.shape[1], -1)
        return q(torch.cat([repeated, actions], dim=-1)).squeeze(-1)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg = self.config
        cem = cfg.target_cem or cfg.cem
        obs, actions, rewards, next_obs, terminals = batch_tensors(batch, self.scaler)
        close = None
        if cfg.close_dim is not None:  # closes are one canonical action: 0 everywhere, +1 at close_dim
            close = torch.zeros_like(self.unit_low)
            close[cfg.close_dim] = 1.0
            actions = torch.where(actions[:, cfg.close_dim:cfg.close_dim + 1] > 0, close, actions)
        with torch.no_grad():
            features = self.encoder_target(next_obs)
            next_actions, best = cem_maximize(lambda a: self._score(self.q1_target, features, a), features.shape[0],
                                              self.unit_low, self.move_high, cem.n_samples, cem.n_iters,
                                              cem.n_elites, self.generator)
            if close is not None:
                closes = close.expand(features.shape[0], 1, -1)
                better = self._score(self.q1_target, features, closes)[:, 0] > best
                next_actions = torch.where(better.unsqueeze(1), closes[:, 0], next_actions)
            next_in = torch.cat([features, next_actions], dim=1)
            next_q = torch.min(self.q1_target(next_in), self.q2_target(next_in)).squeeze(-1)
            if cfg.q_output == "sigmoid":
                target = (rewards + cfg.gamma * (1.0 - terminals) * next_q.sigmoid()).clamp(0.0, 1.0)
            else:
                target = rewards + cfg.gamma * (1.0 - terminals) * next_q
        critic_in = torch.cat([self.encoder(obs), actions], dim=1)
        q1, q2 = self.q1(critic_in).squeeze(-1), self.q2(critic_in).squeeze(-1)
        loss = (nn.functional.binary_cross_entropy_with_logits if cfg.q_output == "sigmoid"
                else nn.functional.mse_loss)
        q_loss = (loss(q1, target) + loss(q2, target)) / 2
        self.optimizer.zero_grad()
        q_loss.backward()
        self.optimizer.step()
        polyak(self.encoder_target, self.encoder, cfg.tau)
        polyak(self.q1_target, self.q1, cfg.tau)
        polyak(self.q2_target, self.q2, cfg.tau)
        return {"q_loss": q_loss.item(), "target_mean": target.mean().item()}
