"""Names of the contract's named vectors whose length depends on the env (docs/topics.md).

The state vector's entries have no meaning a bridge could name for every env, so they are
numbered; a receiver still checks them, which catches a vector of another length or a
message that is not a state vector at all.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=16)
def state_names(n: int) -> tuple[str, ...]:
    """``jsrl/state`` names for an ``n``-vector: ``s0 .. s{n-1}`` (cached: checked on every step)."""
    return tuple(f"s{i}" for i in range(n))
