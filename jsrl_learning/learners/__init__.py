"""Exploration learners and the factory that builds one from a config section."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import gymnasium as gym

from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.base import Learner
from jsrl_learning.learners.iql import IQLConfig, IQLLearner
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner
from jsrl_learning.learners.tabular_q import TabularQConfig, TabularQLearner


def _make_iql(config: Mapping[str, Any], obs_space: gym.Space, act_space: gym.Space, where: str) -> Learner:
    return IQLLearner(from_mapping(IQLConfig, config, where), obs_space, act_space)


def _make_qtopt(config: Mapping[str, Any], obs_space: gym.Space, act_space: gym.Space, where: str) -> Learner:
    return QTOptLearner(from_mapping(QTOptConfig, config, where), obs_space, act_space)


def _make_tabular_q(config: Mapping[str, Any], obs_space: gym.Space, act_space: gym.Space,
                    where: str) -> Learner:
    """Table sizes come from the Discrete spaces; if the config names them too, they must agree."""
    for key, space in (("n_states", obs_space), ("n_actions", act_space)):
        if not isinstance(space, gym.spaces.Discrete):
            raise ConfigError(f"{where}: tabular_q needs Discrete spaces; {key} would come from {space}")
        if key in config and config[key] != int(space.n):
            raise ConfigError(f"{where}: {key}={config[key]} but the space has {int(space.n)}")
    sizes = {"n_states": int(obs_space.n), "n_actions": int(act_space.n)}
    return TabularQLearner(from_mapping(TabularQConfig, {**sizes, **config}, where))


LEARNERS: dict[str, Callable[[Mapping[str, Any], gym.Space, gym.Space, str], Learner]] = {
    "iql": _make_iql, "qtopt": _make_qtopt, "tabular_q": _make_tabular_q,
}


def make_learner(name: str, config: Mapping[str, Any] | None, observation_space: gym.Space,
                 action_space: gym.Space, where: str) -> Learner:
    """Build learner ``name`` from its config section; ``where`` names that section in errors."""
    if name not in LEARNERS:
        raise ConfigError(f"{where}: unknown learner {name!r}; known learners: {', '.join(sorted(LEARNERS))}")
    return LEARNERS[name](dict(config or {}), observation_space, action_space, where)


__all__ = ["Learner", "make_learner", "LEARNERS", "IQLConfig", "IQLLearner", "QTOptConfig",
           "QTOptLearner", "TabularQConfig", "TabularQLearner"]
