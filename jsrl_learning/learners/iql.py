"""Implicit Q-Learning (Kostrikov et al., 2021) for continuous (Box) actions.

IQL never queries Q on actions outside the data: V is an upper expectile of the target Q
over dataset actions, Q regresses onto ``r + gamma V(s')``, and the actor is advantage-
weighted regression onto dataset actions. Offline pre-training and online fine-tuning
are the same ``update``; only the buffer it is fed from changes.

The actor is a Gaussian with a tanh-squashed mean and a learned state-independent log-std
(as in the IQL paper). Advantage-weighted regression is weighted maximum likelihood, and a
Gaussian gives online fine-tuning its own exploration noise, learned rather than scheduled;
``act(obs, explore=False)`` is the mean.

Speed (the update is the CPU bottleneck; ``jsrl bench learner`` measures it, see
docs/learner_speed.md). Every loss of an update reads the networks as they were before it
(CORL's ordering: the bootstrap ``V(s')`` and the advantages come from the old V and old
target critics), so the update splits into two halves that share no writes:

* value/actor half: target twin Q(s, a) -> V and actor losses -> Adam on V and the actor;
* critic half: old V(s') -> twin Q loss -> Adam on the critics -> Polyak into the targets.

The V half writes its new V, and the critic half its new targets, out of place; both are
copied in after the two finish, so the halves may run in either order or at once
(``update_threads: 2``). Each half is one pure function (``torch.func`` gradients, Adam
written out, each network one flat tensor), which ``torch.compile`` turns into one C++
graph that releases the GIL while it runs.
"""
from __future__ import annotations

import copy
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad_and_value

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, require
from jsrl_learning.learners.base import Learner
from jsrl_learning.learners.networks import (
    BoxScaler, EnsembleQ, FlatParams, adam_state, adam_step, batch_tensors, mlp, obs_tensor, seeded_init,
)
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


def grads_and_aux(loss_fn: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                  *params: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Gradients of ``loss_fn(*params) -> (loss, aux)`` with respect to ``params``, and ``aux``.

    Under ``torch.compile`` through ``torch.func`` (the gradients become part of one graph);
    eagerly through plain autograd, whose per-op overhead is a fraction of ``torch.func``'s.
    """
    if torch.compiler.is_compiling():
        grads, (_, aux) = grad_and_value(loss_fn, argnums=tuple(range(len(params))), has_aux=True)(*params)
        return grads, aux
    leaves = [p.detach().requires_grad_() for p in params]
    with torch.enable_grad():
        loss, aux = loss_fn(*leaves)
        return torch.autograd.grad(loss, leaves), aux


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
            self.critic = EnsembleQ(obs_dim, act_dim, config.hidden, n=2)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.flat = {name: FlatParams(getattr(self, name)) for name in ("actor", "value", "critic", "critic_target")}
        self.adam = {name: adam_state(self.flat[name].flat) for name in ("actor", "value", "critic")}
        self.act_generator = torch.Generator().manual_seed(int(act_seed))
        self.updates = 0
        self._halves: tuple[Callable[..., Any], Callable[..., Any]] = (self._value_actor_half, self._critic_half)
        self._compile_pending = config.compile
        self._trusted_state: tuple[int, int, bool] | None = None  # compiled in it: guards may be skipped
        self._pool: ThreadPoolExecutor | None = None

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

    def _standardise(self, obs: torch.Tensor) -> torch.Tensor:
        if self._obs_stats is None:
            return obs
        mean, inv_std = self._obs_stats
        return (obs - mean) * inv_std

    def _value_actor_half(self, value: torch.Tensor, actor: torch.Tensor, target: torch.Tensor,
                          value_adam: dict[str, torch.Tensor], actor_adam: dict[str, torch.Tensor],
                          obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expectile regression of V and advantage-weighted regression of the actor; the actor is
        stepped in place, the new V returned. Metrics: ``[v_loss, actor_loss, v_mean, adv_mean]``."""
        cfg, flat = self.config, self.flat

        def losses(value: torch.Tensor, actor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # The target critics are not differentiated: with grad enabled, they still record nothing.
            target_q = functional_call(self.critic_target, flat["critic_target"].views(target), (obs, actions)).amin(0)
            v = functional_call(self.value, flat["value"].views(value), (obs,)).squeeze(-1)
            adv = target_q - v
            expectile_weight = torch.where(adv > 0, cfg.expectile, 1.0 - cfg.expectile)
            v_loss = (expectile_weight * adv.square()).mean()
            adv_weight = torch.exp(cfg.temperature * adv.detach()).clamp(max=cfg.max_adv_weight)
            log_prob = functional_call(self.actor, flat["actor"].views(actor), (obs, actions))
            actor_loss = -(adv_weight * log_prob).mean()
            return v_loss + actor_loss, torch.stack([v_loss, actor_loss, v.mean(), adv.mean()]).detach()

        (value_grad, actor_grad), metrics = grads_and_aux(losses, value, actor)
        with torch.no_grad():
            actor.copy_(adam_step(actor, actor_grad, actor_adam, cfg.lr))
            return adam_step(value, value_grad, value_adam, cfg.lr), metrics

    def _critic_half(self, critic: torch.Tensor, target: torch.Tensor, value: torch.Tensor,
                     critic_adam: dict[str, torch.Tensor], obs: torch.Tensor, actions: torch.Tensor,
                     rewards: torch.Tensor, next_obs: torch.Tensor,
                     terminals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Twin Q regression onto ``r + gamma V(s')``; the critics are stepped in place, the new
        (Polyak-averaged) targets returned. Metrics: ``[q_loss, q_mean]``."""
        cfg, flat = self.config, self.flat
        with torch.no_grad():
            next_v = functional_call(self.value, flat["value"].views(value), (next_obs,)).squeeze(-1)
            q_target = rewards + cfg.reward_shift + cfg.gamma * (1.0 - terminals) * next_v

        def loss(critic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            qs = functional_call(self.critic, flat["critic"].views(critic), (obs, actions))
            q_loss = (qs - q_target).square().mean()
            return q_loss, torch.stack([q_loss, qs.mean()]).detach()

        (critic_grad,), metrics = grads_and_aux(loss, critic)
        with torch.no_grad():
            critic.copy_(adam_step(critic, critic_grad, critic_adam, cfg.lr))
            return torch.lerp(target, critic, cfg.tau), metrics

    def update(self, batch: Batch) -> dict[str, float]:
        # Contiguous float32: a compiled graph assumes the dtypes and strides it was traced with.
        tensors = [t.float().contiguous() for t in batch_tensors(batch, self.scaler)]
        if self._obs_stats is not None:
            tensors[0], tensors[3] = self._standardise(tensors[0]), self._standardise(tensors[3])
        if self._compile_pending and self.updates >= self.config.compile_after:
            (new_value, value_actor_metrics), (new_target, critic_metrics) = self._first_compiled_update(tensors)
        else:
            # In the state the halves were compiled in, dynamo's guards only re-check what cannot
            # change (dtypes, strides and layouts are fixed above) and cost ~0.1 ms a call.
            trusted = self._trusted_state == self._compile_state(tensors)
            with torch.compiler.set_stance("default", skip_guard_eval_unsafe=trusted):
                (new_value, value_actor_metrics), (new_target, critic_metrics) = self._run_halves(
                    self._halves, tensors, self.config.update_threads == 2)
        self.flat["value"].flat.copy_(new_value)
        self.flat["critic_target"].flat.copy_(new_target)
        self.updates += 1
        q_loss, q_mean = critic_metrics.tolist()
        v_loss, actor_loss, v_mean, adv_mean = value_actor_metrics.tolist()
        return dict(zip(METRICS, (q_loss, v_loss, actor_loss, q_mean, v_mean, adv_mean)))

    def _run_halves(self, halves: tuple[Callable[..., Any], Callable[..., Any]], tensors: list[torch.Tensor],
                    threaded: bool) -> tuple[Any, Any]:
        """Both halves on one batch; with ``threaded``, the value/actor half on the worker thread."""
        obs, actions, rewards, next_obs, terminals = tensors
        value, target = self.flat["value"].flat, self.flat["critic_target"].flat
        value_actor_half, critic_half = halves
        args_a = (value, self.flat["actor"].flat, target, self.adam["value"], self.adam["actor"], obs, actions)
        args_b = (self.flat["critic"].flat, target, value, self.adam["critic"], obs, actions, rewards, next_obs,
                  terminals)
        if not threaded:
            return value_actor_half(*args_a), critic_half(*args_b)
        self._pool = self._pool or ThreadPoolExecutor(1, thread_name_prefix="iql-half")
        pending = self._pool.submit(value_actor_half, *args_a)
        critic_out = critic_half(*args_b)
        return pending.result(), critic_out

    def _first_compiled_update(self, tensors: list[torch.Tensor]) -> tuple[Any, Any]:
        """Compile both halves (on this thread) and run them; if compiling fails, warn and stay eager."""
        self._compile_pending = False
        # C++ wrapper: no Python, and no GIL, inside a graph. Isolated: this learner's graphs are
        # its own (the method's code is shared by every IQLLearner, and so would be its cache).
        compiled = tuple(torch.compile(half, fullgraph=True, dynamic=False, isolate_recompiles=True,
                                       options={"cpp_wrapper": True}) for half in self._halves)
        try:
            outputs = self._run_halves(compiled, tensors, threaded=False)
        except Exception as error:  # noqa: BLE001 - the same halves ran eagerly before: compiling failed
            warnings.warn(f"IQLLearner: torch.compile failed ({type(error).__name__}: {error}); updating "
                          f"eagerly. Set compile: false to skip the attempt.", RuntimeWarning, stacklevel=3)
            return self._run_halves(self._halves, tensors, threaded=False)
        self._halves = compiled
        self._trusted_state = self._compile_state(tensors)
        return outputs

    @staticmethod
    def _compile_state(tensors: list[torch.Tensor]) -> tuple[int, int, bool]:
        """What a compiled graph depends on besides fixed dtypes and layouts: the batch size and the
        global state dynamo guards (torch threads are baked into the kernels, grad mode)."""
        return len(tensors[2]), torch.get_num_threads(), torch.is_grad_enabled()

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (deep copy), loadable with ``torch.load(weights_only=True)``."""
        return copy.deepcopy({
            "actor": self.actor.state_dict(), "value": self.value.state_dict(),
            "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
            "optimizer": self.adam, "act_generator": self.act_generator.get_state(), "updates": self.updates,
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "value", "critic", "critic_target"):
            getattr(self, name).load_state_dict(state[name])  # copies into the flat tensors
        optimizer = state["optimizer"]
        if "param_groups" in optimizer:
            optimizer = self._from_torch_adam(optimizer)
        for name, adam in self.adam.items():
            for key, tensor in adam.items():
                tensor.copy_(optimizer[name][key])
        self.act_generator.set_state(state["act_generator"])
        self.updates = state["updates"]

    def _from_torch_adam(self, optimizer: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
        """Flat Adam state from a checkpoint of the earlier one-``torch.optim.Adam`` learner, whose
        parameters were the actor's, then V's, then the critics', in module order."""
        per_param = [optimizer["state"][i] for i in optimizer["param_groups"][0]["params"]]
        converted, start = {}, 0
        for name in ("actor", "value", "critic"):
            count = len(self.flat[name].names)
            own = per_param[start:start + count]
            start += count
            converted[name] = {"step": torch.as_tensor(own[0]["step"], dtype=torch.float32),
                               **{key: torch.cat([s[key].reshape(-1) for s in own])
                                  for key in ("exp_avg", "exp_avg_sq")}}
        return converted
