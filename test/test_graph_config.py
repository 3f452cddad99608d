"""The graphs, their launch files and their YAMLs agree: known executables, no parameter that no
node declares (ROS would silently ignore a typo), launch files that are valid Python.

launch/launch_ros are not installed here, so launch files are parsed, not run; the graphs
they build come from jsrl_ros/bringup/graph.py, which is checked in every option combination.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import itertools
from pathlib import Path

import pytest
import yaml
from rclpy.node import Node
from rclpy.parameter import Parameter

from jsrl_ros.bringup.graph import GRAPHS
from jsrl_ros.fleet.keys import actor_key_name, make_key_dir

REPO = Path(__file__).resolve().parents[1]
WILDCARD = "/**"


def setup_nodes() -> dict[str, str]:
    """setup.py's NODES dict, read without running setup()."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NODES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no NODES dict")


def params_of(file: str) -> dict[str, dict]:
    data = yaml.safe_load((REPO / "config" / "ros" / file).read_text())
    return {name: section["ros__parameters"] for name, section in data.items()}


def variants(name: str):
    graph_def = GRAPHS[name]
    choices = [[(o.name, c) for c in o.choices] or [(o.name, o.default)] for o in graph_def.options]
    for combo in itertools.product(*choices):
        yield dict(combo), graph_def.build(**dict(combo))


@pytest.mark.parametrize("path", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_parse_and_name_only_known_graphs_and_executables(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    executables = [kw.value.value for c in calls for kw in c.keywords if kw.arg == "executable"]
    graphs = [c.args[0].value for c in calls if getattr(c.func, "id", None) == "launch_description"]
    assert executables or graphs, f"{path.name} starts nothing"
    assert set(executables) <= set(setup_nodes()), executables
    assert set(graphs) <= set(GRAPHS), graphs


def test_the_launch_glue_parses() -> None:
    ast.parse((REPO / "jsrl_ros" / "bringup" / "launch_graph.py").read_text())


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_every_variant_of_a_graph_uses_existing_executables_and_parameters(name: str) -> None:
    nodes = setup_nodes()
    for options, graph in variants(name):
        params = params_of(graph.params_file)
        names = [spec.name for spec in graph.nodes]
        assert len(set(names)) == len(names), names
        for spec in graph.nodes:
            assert spec.executable in nodes, (options, spec.executable)
            known = set(params.get(spec.name, {})) | set(params.get(WILDCARD, {}))
            assert set(spec.params) <= known, (options, spec.name, set(spec.params) - known)


def test_graph_options_are_checked() -> None:
    with pytest.raises(ValueError, match="guide:='joystick': choose one of scripted, bc, teleop"):
        GRAPHS["grasping_sim"].build(guide="joystick")


def node_class(executable: str) -> type[Node]:
    module = importlib.import_module(setup_nodes()[executable])
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, Node) and c is not Node and c.__module__ == module.__name__]
    assert len(classes) == 1, (executable, classes)
    return classes[0]


@pytest.mark.parametrize("file", ["grasping_sim.yaml", "record_demos.yaml", "antmaze_sim.yaml"])
def test_every_yaml_parameter_is_declared_by_a_node_of_the_graph(ros, tmp_path: Path, file: str) -> None:
    """Builds each node with the YAML's values (paths moved to tmp_path) and compares its declared parameters."""
    params = params_of(file)
    executables = {spec.name: spec.executable for graph_name in GRAPHS for _, g in variants(graph_name)
                   if g.params_file == file for spec in g.nodes}  # (the fleet's roles share grasping_sim.yaml)
    assert set(params) - {WILDCARD} <= set(executables), "a YAML section names no node of the graph"
    declared_anywhere: set[str] = set()
    keys = tmp_path / "keys"
    make_key_dir(keys, [1])
    for name, executable in sorted(executables.items()):
        values = {**params.get(WILDCARD, {}), **params.get(name, {})}
        for key in ("episode_dir", "checkpoint_path", "state_file", "outbox_dir", "journal"):
            if key in values:
                values[key] = str(tmp_path / name / key)
        for key in ("key_file", "learner_public_key_file"):  # the fleet's keys, made in tmp_path
            if key in values:
                values[key] = str(keys / Path(values[key]).name)
        if "actor_keys" in values:
            values["actor_keys"] = [f"1={keys / actor_key_name(1)}"]
        overrides = [Parameter(k, value=v) for k, v in values.items()]
        node = ros.add(node_class(executable)(context=ros.context, parameter_overrides=overrides))
        declared = set(node._parameters)
        undeclared = set(params.get(name, {})) - declared
        assert not undeclared, f"{file}: {name} does not declare {sorted(undeclared)}"
        declared_anywhere |= declared
        ros.remove(node)
    assert set(params.get(WILDCARD, {})) <= declared_anywhere


def test_bringup_overrides_become_a_ros_parameter_file(tmp_path: Path) -> None:
    from jsrl_learning.config import ConfigError
    from jsrl_ros.bringup.main import overrides_file

    graph = GRAPHS["grasping_sim"].build(learner="iql", out_dir=str(tmp_path / "run"))
    path = overrides_file(graph, ["learner.batch_size=128", "sim_bridge.env_kwargs={max_steps: 5}",
                                  "policy_arbiter.guide_path="], tmp_path)
    sections = {name: s["ros__parameters"] for name, s in yaml.safe_load(path.read_text()).items()}
    assert sections["learner"]["learner"] == "iql" and sections["learner"]["batch_size"] == 128
    assert sections["learner"]["checkpoint_path"] == str(tmp_path / "run" / "checkpoints" / "explorer.pt")
    assert sections["sim_bridge"]["env_kwargs"] == "{max_steps: 5}"  # a YAML-string parameter stays a string
    assert sections["policy_arbiter"]["guide_path"] == ""
    with pytest.raises(ConfigError, match="no node 'learnr'"):
        overrides_file(graph, ["learnr.batch_size=1"], tmp_path)
    with pytest.raises(ConfigError, match="expected NODE.PARAM=VALUE"):
        overrides_file(graph, ["batch_size=1"], tmp_path)
