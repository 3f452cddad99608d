"""The grasping env's configuration: one frozen dataclass, strict about keys and values.

``jsrl_sim`` may not import the learning core, so this mirrors its conventions locally:
an unknown key or a bad value raises ``GraspConfigError`` (a ``ValueError``) whose message
names the key, so a typo in a scenario YAML fails loudly instead of silently using a default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from jsrl_sim.env_config import apply_overrides
from jsrl_sim.grasping.objects import OBJECT_SETS

TASKS = ("indiscriminate", "instance")
OBS_MODES = ("state", "image")


class GraspConfigError(ValueError):
    """A grasping env setting is unknown or out of range; the message names the key."""


@dataclass(frozen=True)
class GraspConfig:
    """Every knob of ``GraspEnv``; defaults are the documented standard setup."""

    task: str = "indiscriminate"  # "indiscriminate" (lift anything) | "instance" (lift the target)
    object_set: str = "train"  # "train" | "test" | "shapes" (see objects.py)
    num_objects: int = 5  # objects in the tray = object slots in the state observation
    max_steps: int = 15  # env steps per episode before truncation
    obs_mode: str = "state"  # "state" (flat float32) | "image" (Dict image + proprio)
    image_size: int = 64  # S of the (S, S, 3) camera image
    max_translation: float = 0.05  # metres per step along each of x, y, z at |action| = 1
    max_rotation: float = 0.3  # radians of gripper yaw per step at |action| = 1
    lift_height: float = 0.1  # an object this far (m) above the tray floor counts as lifted
    sort_slots: bool = True  # state slots target/graspable/nearest first (slots.py); False: load order
    randomize_colors: bool = False  # object / tray / floor colours and tray texture per episode
    randomize_camera: bool = False  # camera eye/target/fov jitter per episode
    randomize_lighting: bool = False  # light direction, colour and shading coefficients
    randomize_dynamics: bool = False  # object friction and mass

    def validate(self) -> None:
        """Raise ``GraspConfigError`` naming the first bad key."""
        _choice("task", self.task, TASKS)
        _choice("object_set", self.object_set, OBJECT_SETS)
        _choice("obs_mode", self.obs_mode, OBS_MODES)
        for key in ("num_objects", "max_steps", "image_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise GraspConfigError(f"GraspConfig.{key} must be a positive int, got {value!r}")
        for key in ("max_translation", "max_rotation", "lift_height"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise GraspConfigError(f"GraspConfig.{key} must be a positive number, got {value!r}")
        for key in ("sort_slots", "randomize_colors", "randomize_camera", "randomize_lighting", "randomize_dynamics"):
            if not isinstance(getattr(self, key), bool):
                raise GraspConfigError(f"GraspConfig.{key} must be true or false, got {getattr(self, key)!r}")


def make_config(overrides: Mapping[str, Any] | None = None, base: GraspConfig | None = None) -> GraspConfig:
    """``base`` (default: the standard setup) with ``overrides`` applied, validated."""
    return apply_overrides(base or GraspConfig(), overrides, GraspConfigError)


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise GraspConfigError(f"GraspConfig.{key} must be one of {allowed}, got {value!r}")
