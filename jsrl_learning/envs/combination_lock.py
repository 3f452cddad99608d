"""The combination lock: the MDP on which JSRL's Theorem 4.1 separates it from ε-greedy.

H steps, A actions, one correct action per step. A wrong action drops the agent into an
absorbing dead state; the only reward is 1 for the H-th correct action. Exploring from
scratch finds that reward with probability A^-H per episode, whereas a guide that walks
the agent to step h leaves only the last H - h digits to be found.

Decisions (see docs/combination_lock.md):

* The combination is fixed when the env is built (``combination=`` or drawn from
  ``seed``, default 0, so two envs built with the same arguments are the same lock, as a
  trainer's separate training and evaluation envs must be); ``reset(seed=...)`` never
  changes it. The observation does not reveal the
  combination, so redrawing it each episode would make the lock unlearnable: the lock is
  one MDP that a learner solves across many episodes.
* Observation ids: ``t`` (0..H-1) while alive at step t, ``H`` once open, ``H + 1`` dead.
* An episode ends (``terminated``) on success, or after H steps otherwise; a dead agent
  stays dead until then. The horizon is part of the problem, so its end is a true
  terminal (no value beyond step H), not a time-limit truncation.
"""
from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class CombinationLockEnv(gym.Env[int, int]):
    """Combination lock with ``horizon`` digits, each one of ``n_actions`` actions."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        horizon: int,
        n_actions: int,
        seed: int = 0,
        combination: Sequence[int] | None = None,
    ) -> None:
        if not isinstance(horizon, (int, np.integer)) or horizon <= 0:
            raise ValueError(f"CombinationLockEnv: horizon must be a positive int, got {horizon!r}")
        if not isinstance(n_actions, (int, np.integer)) or n_actions < 2:
            raise ValueError(f"CombinationLockEnv: n_actions must be an int >= 2, got {n_actions!r}")
        self.horizon, self.n_actions = int(horizon), int(n_actions)
        if combination is None:
            combination = np.random.default_rng(seed).integers(0, n_actions, size=horizon)
        combination = np.asarray(combination, dtype=np.int64)
        if combination.shape != (horizon,) or combination.min() < 0 or combination.max() >= n_actions:
            raise ValueError(
                f"CombinationLockEnv: combination must be {horizon} ints in [0, {n_actions}), "
                f"got {combination.tolist()}"
            )
        self.combination = combination
        self.open_id, self.dead_id = self.horizon, self.horizon + 1
        self.observation_space = spaces.Discrete(self.horizon + 2)
        self.action_space = spaces.Discrete(self.n_actions)
        self._state = 0
        self._elapsed = self.horizon  # no episode running until reset()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self._state, self._elapsed = 0, 0
        return 0, {"success": False}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        if self._elapsed >= self.horizon or self._state == self.open_id:
            raise RuntimeError("CombinationLockEnv: episode is over, call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"CombinationLockEnv: action must be in [0, {self.n_actions}), got {action!r}")
        self._elapsed += 1
        success = False
        if self._state < self.horizon:
            if int(action) == self.combination[self._state]:
                self._state += 1
                success = self._state == self.horizon
            else:
                self._state = self.dead_id
        terminated = success or self._elapsed == self.horizon
        return self._state, float(success), terminated, False, {"success": success}

    def correct_action(self, obs: int) -> int:
        """The combination's digit at ``obs``; 0 where every action is equivalent (open, dead)."""
        return int(self.combination[obs]) if 0 <= obs < self.horizon else 0


class NoisyLockGuide:
    """A scripted lock guide that is right with probability ``p`` at every step.

    Otherwise it picks one of the A - 1 wrong actions uniformly. It therefore reaches step
    h alive with probability p^h: the guide is imperfect in the way real guides are, and
    the JSRL curriculum has to cope with a roll-in that sometimes fails.
    """

    def __init__(self, env: CombinationLockEnv, p: float, seed: int | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"NoisyLockGuide: p must be in [0, 1], got {p!r}")
        self.env, self.p = env, float(p)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: int) -> int:
        right = self.env.correct_action(int(obs))
        if self.rng.random() < self.p:
            return right
        wrong = int(self.rng.integers(self.env.n_actions - 1))
        return wrong + (wrong >= right)

    def reset(self) -> None:
        """Stateless within an episode; the RNG deliberately runs on across episodes."""

    def state_dict(self) -> dict[str, Any]:
        """The RNG state, so a resumed training run draws the same guide mistakes."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def make_lock_guide(env: gym.Env, p: float, seed: int | None = None) -> NoisyLockGuide:
    """Imperfect guide for a (possibly wrapped) combination lock."""
    lock = env.unwrapped
    if not isinstance(lock, CombinationLockEnv):
        raise TypeError(f"make_lock_guide: needs a CombinationLockEnv, got {type(lock).__name__}")
    return NoisyLockGuide(lock, p, seed)
