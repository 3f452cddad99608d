"""Strict config loading: every section is a dataclass and an unknown key is an error.

Typos in a YAML must fail loudly, naming the file and the key, rather than silently
falling back to a default (a mistyped ``toleranse`` would otherwise change the result).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, TypeVar, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names where."""


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; nested dataclass fields recurse.

    ``where`` names the source (file and section) for error messages. A key that ``cls.RENAMED``
    (old name -> new name) or ``cls.REMOVED`` (old name -> why) lists is an error that says so.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    renamed, removed = getattr(cls, "RENAMED", {}), getattr(cls, "REMOVED", {})
    old = [f"{key!r} is now {renamed[key]!r}" if key in renamed else f"{key!r} was removed: {removed[key]}"
           for key in unknown if key in renamed or key in removed]
    if old:
        raise ConfigError(f"{where}: " + "; ".join(old))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(sorted(fields))}"
        )
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            kwargs[name] = from_mapping(hint, value, f"{where}.{name}")
        else:
            kwargs[name] = value
    try:
        obj = cls(**kwargs)
    except TypeError as exc:  # missing required field
        raise ConfigError(f"{where}: {exc}") from exc
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(where)
    return obj


def in_current_names(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` that an earlier version of this package wrote (a checkpoint's saved config) in
    today's names: renamed keys take their new name, removed ones are dropped. A user's config
    never goes through this: there an old name is an error that names the new one."""
    renamed, removed = getattr(cls, "RENAMED", {}), getattr(cls, "REMOVED", {})
    return {renamed.get(key, key): value for key, value in data.items() if key not in removed}


def to_mapping(obj: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (for YAML dumps beside checkpoints)."""
    return dataclasses.asdict(obj)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def require(cond: bool, where: str, message: str) -> None:
    """Raise ConfigError(``where: message``) unless ``cond``."""
    if not cond:
        raise ConfigError(f"{where}: {message}")
