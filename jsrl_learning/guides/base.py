"""The one interface every guide implements: observation in, action out."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Guide(Protocol):
    """A policy that drives the first ``h`` steps of a JSRL episode.

    ``reset`` is called at the start of every episode so stateful guides (scripts with
    phases, humans) can clear per-episode state.
    """

    def act(self, obs: Any) -> Any: ...

    def reset(self) -> None: ...
