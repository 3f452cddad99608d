"""The vocabulary of node graphs: options, processes, graphs (jsrl_ros/bringup/graph.py and fleet_graphs.py use it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class Option:
    """A graph option: a launch argument and a bringup flag (values are strings, as launch arguments are)."""

    name: str
    default: str
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """One process: the executable (a key of setup.py's NODES), its node name (its section in the
    params file) and parameter overrides. ``terminal``: it reads the keyboard (runs in a terminal).
    ``paces``: it steps the world (a bridge); the bringup starts it once every other node is up,
    so no episode begins before the recorder and the learner listen. ``remaps``: ``(from, to)`` topic
    remappings (a fleet's arbiter reads its guide-step choices from ``/fleet/...``)."""

    executable: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    terminal: bool = False
    paces: bool = False
    remaps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Graph:
    """``namespace``: every node's (a fleet actor's ``actor_3``; "" for the root)."""

    params_file: str  # a file in config/ (installed to share/jsrl_ros/config/)
    nodes: list[NodeSpec]
    namespace: str = ""


@dataclass(frozen=True)
class GraphDef:
    build: Callable[..., Graph]
    options: tuple[Option, ...]
    description: str


def flag(value: str) -> bool:
    return value.strip().lower() in TRUE


def check_options(options: tuple[Option, ...], values: dict[str, str]) -> None:
    for option in options:
        if option.choices and values[option.name] not in option.choices:
            raise ValueError(f"{option.name}:={values[option.name]!r}: choose one of {', '.join(option.choices)}")
