"""Checks the sweeps' settings share (grasp_config.py, antmaze.py): each raises ConfigError
naming ``where``, the key and its bad value."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from jsrl_learning.config import require


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def require_choices(cfg: Any, name: str, allowed: Sequence[str], where: str) -> None:
    """``cfg.<name>``: a non-empty list drawn from ``allowed``."""
    value = getattr(cfg, name)
    require(bool(value) and set(value) <= set(allowed), where,
            f"{name} must be a non-empty subset of {allowed}, got {value!r}")


def require_sizes(cfg: Any, name: str, where: str) -> None:
    """``cfg.<name>``: a non-empty list of positive ints (demo counts, dataset sizes)."""
    value = getattr(cfg, name)
    require(bool(value) and all(positive_int(n) for n in value), where, f"{name} must be positive ints, got {value!r}")


def require_seeds(cfg: Any, where: str) -> None:
    """``cfg.seeds``: a non-empty list of distinct ints >= 0."""
    seeds = cfg.seeds
    require(bool(seeds) and all(isinstance(s, int) and s >= 0 for s in seeds) and len(set(seeds)) == len(seeds),
            where, f"seeds must be distinct ints >= 0, got {seeds!r}")


def require_positive_ints(cfg: Any, names: Iterable[str], where: str) -> None:
    """Each ``cfg.<name>``: a positive int."""
    for name in names:
        require(positive_int(getattr(cfg, name)), where, f"{name} must be a positive int, got {getattr(cfg, name)!r}")
