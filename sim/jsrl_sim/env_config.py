"""Strict overrides for the simulators' frozen config dataclasses.

``jsrl_sim`` may not import the learning core's config loader, so its envs share this one
rule: an unknown key or a bad value raises the env's own ``ValueError`` subclass, naming the key.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

C = TypeVar("C")


def apply_overrides(base: C, overrides: Mapping[str, Any] | None, error: type[ValueError]) -> C:
    """``base`` with ``overrides`` applied and ``base.validate()`` run; unknown keys raise ``error``."""
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise error(f"{type(base).__name__}: unknown key(s) {', '.join(map(repr, unknown))}; "
                    f"known keys: {', '.join(sorted(known))}")
    config = dataclasses.replace(base, **overrides)  # type: ignore[type-var]
    config.validate()
    return config
