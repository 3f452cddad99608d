"""The AntMaze env's configuration: one frozen dataclass, strict about keys and values.

``jsrl_sim`` may not import the learning core, so this mirrors its conventions locally: an
unknown key or a bad value raises ``AntMazeConfigError`` (a ``ValueError``) naming the key,
so a typo in a scenario YAML fails loudly instead of silently using a default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from jsrl_sim.antmaze.maze import MAZES
from jsrl_sim.env_config import apply_overrides


class AntMazeConfigError(ValueError):
    """An AntMaze env setting is unknown or out of range; the message names the key."""


@dataclass(frozen=True)
class AntMazeConfig:
    """Every knob of ``AntMazeEnv``; defaults are D4RL's antmaze-umaze task."""

    maze: str = "umaze"  # "umaze" | "medium" | "large"
    max_steps: int | None = None  # steps before truncation; None = D4RL's (700 umaze, 1000 medium/large)
    image_size: int = 64  # S of render()'s (S, S, 3) top-down frame with render_mode="rgb_array"

    def validate(self) -> None:
        """Raise ``AntMazeConfigError`` naming the first bad key."""
        if self.maze not in MAZES:
            raise AntMazeConfigError(f"AntMazeConfig.maze must be one of {tuple(MAZES)}, got {self.maze!r}")
        if self.max_steps is not None:
            _positive_int("max_steps", self.max_steps)
        _positive_int("image_size", self.image_size)

    @property
    def episode_steps(self) -> int:
        """The effective episode length: ``max_steps`` or the maze's D4RL default."""
        return self.max_steps if self.max_steps is not None else MAZES[self.maze].max_steps


def make_config(overrides: Mapping[str, Any] | None = None, base: AntMazeConfig | None = None) -> AntMazeConfig:
    """``base`` (default: D4RL umaze) with ``overrides`` applied, validated."""
    return apply_overrides(base or AntMazeConfig(), overrides, AntMazeConfigError)


def _positive_int(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise AntMazeConfigError(f"AntMazeConfig.{key} must be a positive int, got {value!r}")
