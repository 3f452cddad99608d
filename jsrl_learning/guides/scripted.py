"""A guide from any hand-written controller: a callable from observation to action."""
from __future__ import annotations

from typing import Any, Callable


class ScriptedGuide:
    """Wraps ``fn(obs) -> action``; ``reset_fn`` clears a script's per-episode state (phases)."""

    def __init__(self, fn: Callable[[Any], Any], reset_fn: Callable[[], None] | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"ScriptedGuide: fn must be callable, got {type(fn).__name__}")
        self.fn, self.reset_fn = fn, reset_fn

    def act(self, obs: Any) -> Any:
        return self.fn(obs)

    def reset(self) -> None:
        if self.reset_fn is not None:
            self.reset_fn()
