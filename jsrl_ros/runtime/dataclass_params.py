"""ROS parameters declared from the core's config dataclasses, so a node never retypes a field.

Each field becomes one parameter with the dataclass's own default, so the node and the core
cannot drift apart (the curriculum manager's window once defaulted to 3 where
``CurriculumConfig`` said 5). ROS parameters have no null: a ``float | None`` field is declared
as a double whose NaN means None (unset).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, get_type_hints

from rclpy.node import Node


def _nullable_float(hint: Any) -> bool:
    return hint == (float | None)


def declare_dataclass(node: Node, cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Declare a parameter per field of ``cls`` (except ``skip``); return their values by field name.

    The mapping goes to ``jsrl_learning.config.from_mapping(cls, ...)``, which validates it.
    """
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        if field.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name} has no default to declare a ROS parameter with")
        if _nullable_float(hints[field.name]):
            value = node.declare_parameter(field.name, math.nan if field.default is None else field.default).value
            values[field.name] = None if isinstance(value, float) and math.isnan(value) else value
        else:
            values[field.name] = node.declare_parameter(field.name, field.default).value
    return values
