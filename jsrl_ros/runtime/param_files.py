"""The parameters a node's command line gives it (``--params-file`` files, ``-p`` rules), read as rcl reads them.

rcl alone ignores keys that no node declares, and when a key's type differs between two files' sections
for the same node it sometimes keeps the first file's value (measured: ``dt: 1`` then ``dt: 0.05`` gives
1, ``dt: 0.1`` then ``dt: abc`` gives 0.1). So the node checks every file itself (jsrl_ros/runtime/checked_node.py), with
this module: the files' sections in command-line order, which of them apply to a node, the value the
last one meant, and what is wrong with a value or a key. Pure Python, no rclpy node needed.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml
from rclpy.parameter import Parameter

from jsrl_learning.config import ConfigError

ROS_PARAMETERS = "ros__parameters"
_PLAIN = "!plain"  # the tag _RclLoader gives untagged plain scalars, typed like rcl does below
_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")  # strtol(base 0): hex, octal, decimal
_WILDCARDS = {"*", "**"}

Type = Parameter.Type
_EXPECTED = {Type.BOOL: "a bool", Type.INTEGER: "an integer", Type.DOUBLE: "a double (or an integer)",
             Type.STRING: "a string", Type.BYTE_ARRAY: "a list of bytes", Type.BOOL_ARRAY: "a list of bools",
             Type.INTEGER_ARRAY: "a list of integers", Type.DOUBLE_ARRAY: "a list of doubles (or integers)",
             Type.STRING_ARRAY: "a list of strings"}
_SCALAR = {Type.BOOL: (bool,), Type.INTEGER: (int,), Type.DOUBLE: (int, float), Type.STRING: (str,)}
_ARRAY = {Type.BYTE_ARRAY: (int,), Type.BOOL_ARRAY: (bool,), Type.INTEGER_ARRAY: (int,),
          Type.DOUBLE_ARRAY: (int, float), Type.STRING_ARRAY: (str,)}
_DOUBLES = (Type.DOUBLE, Type.DOUBLE_ARRAY)
_NAMES = {bool: "bool", int: "integer", float: "double", str: "string"}


@dataclass(frozen=True)
class Section:
    """One node section of one source: ``params`` flattened the ROS way (nested maps become ``a.b``)."""

    origin: str  # the file as given on the command line, or "-p RULE"
    name: str  # as written: "/**", "sim_bridge", "/ns/sim_bridge", "/**/sim_bridge"
    params: Mapping[str, Any]

    @property
    def pattern(self) -> str:
        """rcl's key for the section: ``sim_bridge`` and ``/sim_bridge`` are one section."""
        return "/" + "/".join(t for t in self.name.split("/") if t)

    @property
    def shared(self) -> bool:
        """A wildcard section (``/**``, ``/ns/*``) names no node: other nodes may read the keys one node lacks."""
        return self.pattern.rsplit("/", 1)[1] in _WILDCARDS

    def applies_to(self, fqn: str) -> bool:
        return _matches(self.pattern, fqn)


def _matches(pattern: str, fqn: str) -> bool:
    """rcl's node-name match: ``*`` is one name token, ``**`` any number of them."""
    parts = ["(/[^/]+)*" if t == "**" else "/[^/]+" if t == "*" else "/" + re.escape(t) for t in pattern.split("/")[1:]]
    return re.fullmatch("".join(parts) or "/", fqn) is not None


class _RclLoader(yaml.SafeLoader):
    """Composes YAML but leaves plain scalars untyped: rcl types them its own way (``1e3`` is a double,
    ``2024-01-01`` a string), which PyYAML's resolver does not."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


def _rcl_scalar(text: str) -> bool | int | float | str:
    """A plain scalar as rcl's parser types it: bool words, then strtol, then strtod, else a string."""
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    match = _INT.fullmatch(text)
    if match:
        digits = match.group(2)
        base = 16 if digits[1:2] in ("x", "X") else 8 if len(digits) > 1 and digits[0] == "0" else 10
        return int(digits, base) * (-1 if match.group(1) == "-" else 1)
    if text.lstrip("+-").lower() in (".inf", ".nan"):
        return float(text.replace(".", "", 1))
    if "_" not in text:  # Python's float() accepts 1_000, strtod does not
        try:
            return float(text)
        except ValueError:
            pass
    return text


def _value(node: yaml.Node, where: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _value(v, where) for k, v in node.value}  # keys are names, never typed
    if isinstance(node, yaml.SequenceNode):
        items = [_value(v, where) for v in node.value]
        kinds = {_NAMES.get(type(v), "other") for v in items}
        if len(kinds) > 1:
            raise ConfigError(f"{where}: the list at line {node.start_mark.line + 1} mixes "
                              f"{' and '.join(sorted(kinds))} values, which rcl cannot read "
                              f"(write 1.0, not 1, in a list of doubles)")
        return items
    return _rcl_scalar(node.value) if node.tag == _PLAIN else node.value


def _flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in params.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _sections(data: Mapping[str, Any], origin: str, names: tuple[str, ...] = ()) -> Iterator[Section]:
    """Sections in file order; ``/ns: {node: {ros__parameters: ...}}`` nests namespaces as rcl allows."""
    for key, value in data.items():
        if key == ROS_PARAMETERS and isinstance(value, Mapping):
            yield Section(origin, "/".join(names), dict(_flatten(value)))
        elif key != ROS_PARAMETERS and isinstance(value, Mapping):
            yield from _sections(value, origin, (*names, key))


def read_params_file(path: str) -> list[Section]:
    """The sections of one params file; an unreadable or unparsable file is a ConfigError naming it."""
    try:
        node = yaml.compose(Path(path).read_text(), Loader=_RclLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"params file {path}: {exc}") from exc
    data = _value(node, f"params file {path}") if node is not None else {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"params file {path}: not a ROS parameter file (node: {ROS_PARAMETERS}: ...)")
    return list(_sections(data, path))


def _param_rule(rule: str) -> Section:
    """``-p name:=value`` (every node) or ``-p node:name:=value``, as the one-key section rcl makes of it."""
    target, sep, text = rule.partition(":=")
    node, _, name = target.rpartition(":")
    if not (sep and name):
        raise ConfigError(f"-p {rule!r}: expected NAME:=VALUE")
    try:
        value = _value(yaml.compose(text, Loader=_RclLoader) or yaml.ScalarNode(_PLAIN, ""), f"-p {rule}")
    except yaml.YAMLError as exc:
        raise ConfigError(f"-p {rule!r}: the value is not YAML: {exc}") from exc
    return Section(f"-p {rule}", node or "/**", dict(_flatten({name: value})))


def command_line_sections(argv: Sequence[str]) -> list[Section]:
    """Every section that ``--params-file`` and ``-p``/``--param`` in argv's ``--ros-args`` blocks give, in order."""
    sections: list[Section] = []
    in_ros_args = False
    for flag, value in zip(argv, [*argv[1:], None]):
        if flag == "--ros-args":
            in_ros_args = True
        elif flag == "--":
            in_ros_args = False
        elif in_ros_args and value is not None and flag == "--params-file":
            sections += read_params_file(value)
        elif in_ros_args and value is not None and flag in ("-p", "--param"):
            sections.append(_param_rule(value))
    return sections


def effective_values(sections: Sequence[Section], fqn: str) -> dict[str, tuple[Section, Any]]:
    """What rcl means each key of node ``fqn`` to be, and where it comes from.

    rcl merges sections with the same name (a later file's value wins), then applies them to the node
    in the order each name first appeared: a later-appearing matching section overrides an earlier one.
    """
    merged: dict[str, dict[str, tuple[Section, Any]]] = {}
    for section in sections:
        merged.setdefault(section.pattern, {}).update((k, (section, v)) for k, v in section.params.items())
    values: dict[str, tuple[Section, Any]] = {}
    for pattern, params in merged.items():
        if _matches(pattern, fqn):
            values.update(params)
    return values


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {_NAMES.get(type(value[0]), 'value')}s" if value else "an empty list"
    name = _NAMES.get(type(value), type(value).__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def type_problem(kind: Parameter.Type, value: Any) -> str | None:
    """Why ``value`` (as read from YAML) cannot be a parameter of type ``kind``; None if it can.

    An integer is a double too (``dt: 1``), also inside a list of doubles.
    """
    def one(item: Any, types: tuple[type, ...]) -> bool:
        return isinstance(item, types) and (bool in types or not isinstance(item, bool))

    if kind in _SCALAR:
        fits = one(value, _SCALAR[kind])
    elif kind in _ARRAY:
        fits = isinstance(value, list) and all(one(item, _ARRAY[kind]) for item in value)
    else:  # NOT_SET: declared with dynamic typing, anything goes
        return None
    return None if fits else f"must be {_EXPECTED[kind]}, got {value!r} ({_kind_of(value)})"


def as_declared(kind: Parameter.Type, value: Any) -> Any:
    """``value`` (already checked by :func:`type_problem`) converted to ``kind``: integers become doubles."""
    if kind == Type.DOUBLE:
        return float(value)
    if kind == Type.DOUBLE_ARRAY:
        return [float(v) for v in value]
    return value


def is_double(kind: Parameter.Type | None) -> bool:
    return kind in _DOUBLES


def unknown_keys(sections: Sequence[Section], fqn: str, declared: Sequence[str],
                 renamed: Mapping[str, str] | None = None) -> list[str]:
    """One message per key of a section naming node ``fqn`` that the node does not declare, with the
    nearest declared name, or the new name of a ``renamed`` (old -> new) one.

    A wildcard section (``/**``) is shared by every node: a key one node lacks is usually another
    node's (``env_id`` is the bridge's and the learner's, not the recorder's), so only the node's own
    old names are checked there (an old ``eval_every`` under ``/**`` must not be silently ignored).
    """
    renamed = renamed or {}
    problems = []
    for section in sections:
        if not section.applies_to(fqn):
            continue
        for key in section.params:
            if key in declared:
                continue
            if key in renamed:
                problems.append(f"{section.origin} [{section.name}]: parameter {key!r} is now {renamed[key]!r}")
            elif not section.shared:
                nearest = difflib.get_close_matches(key, declared, n=1)
                hint = f"did you mean {nearest[0]!r}?" if nearest else "no parameter of this node is close"
                problems.append(f"{section.origin} [{section.name}]: unknown parameter {key!r} ({hint})")
    return problems
