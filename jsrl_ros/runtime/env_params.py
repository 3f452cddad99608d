"""The env a graph runs, from ROS parameters: a gymnasium id, its kwargs as a YAML string, and
the observation mode (an env kwarg the graph options set, e.g. ``obs:=image``).

Shared by the sim bridge (which runs the env) and the learner (which needs its spaces), so
both declare and read the same parameters (``/**`` in the scenario YAML) the same way.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import yaml
from rclpy.node import Node

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


def declare_env(node: Node, where: str, **extra: Any) -> gym.Env:
    """Declare ``env_id``, ``env_kwargs`` and ``obs_mode`` ("" = the env's default) on ``node`` and make
    the env; a bad id or kwarg is a ConfigError naming it."""
    env_id = node.declare_parameter("env_id", "jsrl_sim:jsrl/Grasp-v0").value
    kwargs = yaml_mapping(node.declare_parameter("env_kwargs", "").value, f"{where}.env_kwargs")
    obs_mode = node.declare_parameter("obs_mode", "").value
    kwargs.update({"obs_mode": obs_mode} if obs_mode else {}, **extra)
    try:
        return gym.make(env_id, **kwargs)
    except (gym.error.Error, ImportError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot make env {env_id!r} with {kwargs}: {exc}") from exc
