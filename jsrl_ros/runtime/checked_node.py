"""Nodes whose parameters cannot be mistyped: the base classes of every node in jsrl_ros/nodes.

rclpy alone ignores a key no node declares, raises a traceback for ``dt: 1`` where a double is
declared, and rcl may silently keep the first file's value when a later file gives another type. Here:

- while the node declares each parameter, every value that the command line's params files and
  ``-p`` rules give it is checked against the declared type (a ConfigError names the file, the
  section and the key), and an integer for a double is converted to the double that the last file
  meant (:class:`CheckedParameters`);
- once the node is built, a key of a section naming the node that the node does not declare is a
  ConfigError naming the file, the section and the nearest declared name
  (:func:`reject_unknown_parameters`; ``/**`` keys are shared by all nodes, so not checked per node);
  a key the node lists in ``RENAMED_PARAMETERS`` (old -> new name) is an error naming the new name.

``spin_node`` runs both, before the node spins (so before it reports on ``diagnostics``): a mistyped
parameter is one line on stderr and exit code 2.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Sequence

from rcl_interfaces.msg import ParameterValue
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.parameter import Parameter

from jsrl_learning.config import ConfigError
from jsrl_ros.runtime.param_files import Section, as_declared, effective_values, is_double, type_problem, unknown_keys

# The sections of the command line that started this process; a context variable because the
# node classes are built by ``make_node()`` with no arguments (spin_node sets it around that call).
_SECTIONS: ContextVar[tuple[Section, ...]] = ContextVar("jsrl_param_sections", default=())


@contextmanager
def parameter_sections(sections: Sequence[Section]) -> Iterator[None]:
    """Nodes built inside this block check their declared parameters against ``sections``."""
    token = _SECTIONS.set(tuple(sections))
    try:
        yield
    finally:
        _SECTIONS.reset(token)


def _declared_type(entry: tuple[Any, ...]) -> Parameter.Type | None:
    """The type rclpy will give a ``declare_parameters`` entry ``(name[, value or type[, descriptor]])``;
    None for dynamic typing."""
    value = entry[1] if len(entry) > 1 else None
    if isinstance(value, Parameter.Type):
        return value
    if len(entry) < 2 or (len(entry) > 2 and entry[2].dynamic_typing):
        return None
    if isinstance(value, ParameterValue):
        return Parameter.Type(value.type)
    return Parameter.Type.from_parameter_value(value)


class CheckedParameters:
    """Mixin before ``Node``/``LifecycleNode``: checks each parameter's overrides as it is declared.

    Every ``declare_parameter`` goes through ``declare_parameters``, which is the one place that knows
    both the declared type and the override rclpy is about to apply (``_parameter_overrides``).
    """

    def declare_parameters(self, namespace: str, parameters: Sequence[tuple[Any, ...]],
                           ignore_override: bool = False) -> list[Parameter]:
        if not ignore_override:
            for entry in parameters:
                self._settle_override(f"{namespace}.{entry[0]}" if namespace else entry[0], _declared_type(entry))
        return super().declare_parameters(namespace, parameters, ignore_override)  # type: ignore[misc]

    def _settle_override(self, name: str, kind: Parameter.Type | None) -> None:
        """Check every source's value for ``name``; for doubles, replace rcl's merge by the value meant.

        rcl's merge is trusted where every source has the declared type; with an integer in one file
        and a double in another (both fine for a double) it may keep either, so the override is the
        last source's value (:func:`effective_values`), as a double.
        """
        if kind is None or kind == Parameter.Type.NOT_SET:
            return
        fqn = self.get_fully_qualified_name()  # type: ignore[attr-defined]
        sections = _SECTIONS.get()
        for section in sections:
            problem = type_problem(kind, section.params[name]) if name in section.params else None
            if problem and section.applies_to(fqn):
                raise ConfigError(f"{fqn}: {section.origin} [{section.name}]: {name} {problem}")
        overrides: dict[str, Parameter] = self._parameter_overrides  # type: ignore[attr-defined]
        effective = effective_values(sections, fqn)
        if name in effective:
            value = effective[name][1]
        elif name in overrides:  # given otherwise (a constructor's parameter_overrides, a node's cli_args)
            value = overrides[name].value
            problem = type_problem(kind, value)
            if problem:
                raise ConfigError(f"{fqn}: parameter {name} {problem}")
        else:
            return
        if is_double(kind):
            overrides[name] = Parameter(name, kind, as_declared(kind, value))


class CheckedNode(CheckedParameters, Node):
    """A ``Node`` whose parameters are checked (module docstring)."""


class CheckedLifecycleNode(CheckedParameters, LifecycleNode):
    """A ``LifecycleNode`` whose parameters are checked (module docstring)."""


def reject_unknown_parameters(node: Node, sections: Sequence[Section]) -> None:
    """A ConfigError for keys of ``node``'s own sections that it did not declare; call it once the node
    is built (every node declares its parameters in ``__init__``)."""
    fqn = node.get_fully_qualified_name()
    problems = unknown_keys(sections, fqn, node.list_parameters([], 0).names, getattr(node, "RENAMED_PARAMETERS", {}))
    if problems:
        raise ConfigError(f"{fqn}: " + "; ".join(problems))
