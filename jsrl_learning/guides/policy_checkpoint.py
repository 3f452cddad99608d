"""A guide from a saved learner: warm starts, and "a pre-trained IQL policy as the guide".

A checkpoint carries its policy as a self-describing ``"policy"`` entry (learner name,
learner config, spaces, learner state), so the learner is rebuilt without the env or the
run's YAML. The trainer's checkpoints contain one; so can a policy-only file written with
``save_checkpoint(path, {"policy": policy_state(...)})``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym

from jsrl_learning.checkpoint import CheckpointError, load_checkpoint, space_from_state, space_to_state
from jsrl_learning.config import in_current_names
from jsrl_learning.learners import Learner, make_learner
from jsrl_learning.learners.td_config import TDConfig


def policy_state(learner_name: str, learner_config: Mapping[str, Any], observation_space: gym.Space,
                 action_space: gym.Space, learner: Learner) -> dict[str, Any]:
    """Everything needed to rebuild ``learner`` elsewhere."""
    return {"learner_name": learner_name, "learner_config": dict(learner_config),
            "observation_space": space_to_state(observation_space),
            "action_space": space_to_state(action_space), "learner": learner.state_dict()}


def learner_from_policy_state(state: Mapping[str, Any], where: str) -> Learner:
    learner = make_learner(state["learner_name"], in_current_names(TDConfig, state["learner_config"]),
                           space_from_state(state["observation_space"]),
                           space_from_state(state["action_space"]), f"{where}: learner_config")
    learner.load_state_dict(state["learner"])
    return learner


class PolicyCheckpointGuide:
    """Acts with the learner's greedy policy, ``act(obs, explore=False)``."""

    def __init__(self, learner: Learner, learner_name: str) -> None:
        self.learner, self.learner_name = learner, learner_name

    @classmethod
    def load(cls, path: str | Path) -> "PolicyCheckpointGuide":
        state = load_checkpoint(path)
        if "policy" not in state:
            raise CheckpointError(f"{path}: holds no 'policy' entry (not a learner checkpoint); "
                                  f"keys: {', '.join(sorted(state))}")
        return cls(learner_from_policy_state(state["policy"], str(path)), state["policy"]["learner_name"])

    def act(self, obs: Any) -> Any:
        return self.learner.act(obs, explore=False)

    def reset(self) -> None:
        """The greedy policy is memoryless."""
