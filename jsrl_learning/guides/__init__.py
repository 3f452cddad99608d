"""Guide policies and ``make_guide``, which builds one from a config section (``GuideSpec``).

Kinds:

* ``scripted``: ``target: "package.module:factory"``, called as ``factory(env, **kwargs)``;
  it returns a Guide (``act``/``reset``) or a plain ``obs -> action`` callable.
* ``bc``: a saved BC guide (``path``) or one trained now on ``dataset`` with ``bc``.
* ``policy_checkpoint``: the greedy policy of a saved learner (``path``).
* ``human``: teleop commands pushed into ``guide.source`` (a LatestCommand) by an adapter.
* ``external``: the guide object is handed to the trainer in code (ROS nodes, tests).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from jsrl_learning.config import ConfigError, require
from jsrl_learning.datasets import DatasetError, load_dataset, locate_dataset
from jsrl_learning.guides.base import Guide
from jsrl_learning.guides.bc import BCConfig, BCGuide
from jsrl_learning.guides.human import HumanGuide, LatestCommand
from jsrl_learning.guides.policy_checkpoint import PolicyCheckpointGuide
from jsrl_learning.guides.scripted import ScriptedGuide

KINDS = ("scripted", "bc", "policy_checkpoint", "human", "external")


@dataclass
class GuideSpec:
    kind: str = "external"
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    dataset: str | None = None
    bc: BCConfig = field(default_factory=BCConfig)
    timeout_s: float = 0.5
    idle_action: list[float] | None = None

    def validate(self, where: str) -> None:
        require(self.kind in KINDS, where, f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "scripted":
            require(isinstance(self.target, str) and ":" in self.target, where,
                    f"target must be 'package.module:factory' for a scripted guide, got {self.target!r}")
        if self.kind == "bc":
            require((self.path is None) != (self.dataset is None), where,
                    "a bc guide needs exactly one of path (a saved BC guide) or dataset (train one now)")
        if self.kind == "policy_checkpoint":
            require(self.path is not None, where, "a policy_checkpoint guide needs path")
        if self.kind in ("bc", "policy_checkpoint") and self.path is not None:
            require(Path(self.path).is_file(), where, f"path: file not found: {self.path}")
        if self.kind == "bc" and self.dataset is not None:
            try:
                locate_dataset(self.dataset)
            except DatasetError as exc:
                raise ConfigError(f"{where}: dataset: {exc}") from exc
        if self.kind == "human":
            require(self.timeout_s > 0, where, f"timeout_s must be > 0, got {self.timeout_s!r}")


def make_guide(spec: GuideSpec, env: gym.Env, where: str = "guide") -> Guide:
    """Build the guide ``spec`` describes for ``env``; ``where`` names the config section in errors."""
    spec.validate(where)
    if spec.kind == "scripted":
        return _scripted(spec, env, where)
    if spec.kind == "bc":
        if spec.path is not None:
            return BCGuide.load(spec.path)
        return BCGuide.train(load_dataset(spec.dataset), spec.bc, env.action_space)
    if spec.kind == "policy_checkpoint":
        return PolicyCheckpointGuide.load(spec.path)
    if spec.kind == "human":
        idle = np.zeros(env.action_space.shape, env.action_space.dtype) if spec.idle_action is None \
            else np.asarray(spec.idle_action, env.action_space.dtype)
        require(idle.shape == env.action_space.shape, where,
                f"idle_action has shape {idle.shape}, the action space {env.action_space.shape}")
        return HumanGuide(LatestCommand(), spec.timeout_s, idle)
    raise ConfigError(f"{where}: kind is 'external': pass the guide object in code, or pick one of "
                      f"{KINDS[:-1]}")


def _scripted(spec: GuideSpec, env: gym.Env, where: str) -> Guide:
    module_name, _, attr = spec.target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where}: target {spec.target!r} cannot be imported: {exc}") from exc
    made = factory(env, **spec.kwargs)
    if isinstance(made, Guide):
        return made
    if callable(made):
        return ScriptedGuide(made)
    raise ConfigError(f"{where}: target {spec.target!r} returned {type(made).__name__}, "
                      f"not a guide or an obs -> action callable")


__all__ = ["BCConfig", "BCGuide", "Guide", "GuideSpec", "HumanGuide", "LatestCommand",
           "PolicyCheckpointGuide", "ScriptedGuide", "make_guide"]
