"""The env a graph runs, from ROS parameters: a gymnasium id plus its kwargs as a YAML string.

Shared by the sim bridge (which runs the env) and the learner (which needs its spaces), so
both read the same two parameters (``/**`` in the scenario YAML) the same way.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import yaml

import jsrl_learning.envs  # noqa: F401  (registers the core's own gymnasium envs)
from jsrl_learning.config import ConfigError


def yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """A mapping written as a YAML string parameter (``"{max_steps: 15}"``); ``""`` is empty."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a YAML mapping like '{{key: value}}', got {text!r}")
    return data


def make_env(env_id: str, env_kwargs: str, where: str, **extra: Any) -> gym.Env:
    """``gymnasium.make(env_id, **yaml(env_kwargs), **extra)``; a bad id or kwarg is a ConfigError naming it."""
    kwargs = {**yaml_mapping(env_kwargs, f"{where}.env_kwargs"), **extra}
    try:
        return gym.make(env_id, **kwargs)
    except (gym.error.Error, ImportError, ModuleNotFoundError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot make env {env_id!r} with {kwargs}: {exc}") from exc
