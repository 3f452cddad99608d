"""Configuration that cannot be mistyped (issue 11): unknown keys, the type of every file's value, ints for doubles.

Before: a misspelt key was ignored, a string in the bringup's second params file was ignored (rcl kept
the first file's value), and ``dt: 1`` ended in rclpy's InvalidParameterTypeException traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from test_graph_config import node_class

from jsrl_learning.config import ConfigError
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.fleet.keys import LEARNER_KEY, LEARNER_PUBLIC_KEY, actor_key_name, make_key_dir
from jsrl_ros.runtime.checked_node import CheckedNode, parameter_sections, reject_unknown_parameters
from jsrl_ros.runtime.diagnostics import TOPIC as DIAGNOSTICS
from jsrl_ros.runtime.param_files import (as_declared, command_line_sections, effective_values, read_params_file,
                                          type_problem, unknown_keys)

REPO = Path(__file__).resolve().parents[1]
Type = Parameter.Type
PATH_KEYS = ("episode_dir", "checkpoint_path", "state_file")


def params_file(path: Path, sections: dict[str, dict]) -> str:
    path.write_text(yaml.safe_dump({name: {"ros__parameters": p} for name, p in sections.items()}))
    return str(path)


def ros_args(*files: str) -> list[str]:
    return ["--ros-args", *[arg for f in files for arg in ("--params-file", f)]]


# --- the files, read as rcl reads them ---------------------------------------------------------

def test_sections_come_in_command_line_order_flattened_and_typed_like_rcl(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("/**:\n  ros__parameters:\n    dt: 1\n    big: 1e3\n    day: 2024-01-01\n    quoted: '5'\n"
                     "    octal: 010\n    on: yes\n    'off': off\n"
                     "/ns:\n  arm:\n    ros__parameters:\n      safety:\n        max_velocity: [1, 2]\n")
    second = params_file(tmp_path / "b.yaml", {"arm": {"dt": 0.05}})
    argv = ["prog", "--ros-args", "-r", "__node:=arm", "--params-file", str(first), "-p", "arm:seed:=3",
            "--params-file", second, "--", "--params-file", "not-a-ros-argument.yaml"]
    sections = command_line_sections(argv)
    assert [(s.origin, s.name) for s in sections] == [(str(first), "/**"), (str(first), "/ns/arm"),
                                                      ("-p arm:seed:=3", "arm"), (second, "arm")]
    assert sections[0].params == {"dt": 1, "big": 1000.0, "day": "2024-01-01", "quoted": "5", "octal": 8,
                                   "on": True, "off": False}
    assert sections[1].params == {"safety.max_velocity": [1, 2]} and sections[1].pattern == "/ns/arm"
    assert sections[2].params == {"seed": 3}


@pytest.mark.parametrize("pattern, fqn, applies", [
    ("/**", "/ns/arm", True), ("arm", "/arm", True), ("/arm", "/arm", True), ("/arm", "/ns/arm", False),
    ("/ns/arm", "/ns/arm", True), ("/**/arm", "/ns/arm", True), ("/**/arm", "/arm", True), ("/*", "/arm", True),
    ("/*", "/ns/arm", False), ("other", "/arm", False)])
def test_sections_apply_to_nodes_as_in_rcl(pattern: str, fqn: str, applies: bool, tmp_path: Path) -> None:
    [section] = read_params_file(params_file(tmp_path / "p.yaml", {pattern: {"x": 1}}))
    assert section.applies_to(fqn) is applies
    assert section.shared is (pattern in ("/**", "/*"))


def test_the_effective_value_follows_rcls_order_of_sections(tmp_path: Path) -> None:
    """Measured with rcl: a section merges across files (the later file wins), and sections apply in the
    order their names first appeared, so ``/**`` of a second file does not beat the first file's node section."""
    first = params_file(tmp_path / "1.yaml", {"/**": {"k": 1, "j": 1}, "arm": {"k": 2}})
    second = params_file(tmp_path / "2.yaml", {"/**": {"k": 3, "j": 3}, "/arm": {"dt": 0.05}})
    values = effective_values(command_line_sections(ros_args(first, second)), "/arm")
    assert {key: value for key, (_, value) in values.items()} == {"k": 2, "j": 3, "dt": 0.05}
    assert values["dt"][0].origin == second


def test_a_list_mixing_ints_and_doubles_or_bad_yaml_is_one_error_naming_the_file(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("arm:\n  ros__parameters:\n    home: [1, 0.5]\n")
    with pytest.raises(ConfigError, match=rf"{mixed}: the list at line 3 mixes double and integer values"):
        read_params_file(str(mixed))
    broken = tmp_path / "broken.yaml"
    broken.write_text("arm: [\n")
    with pytest.raises(ConfigError, match=f"params file {broken}"):
        read_params_file(str(broken))
    with pytest.raises(ConfigError, match="params file .*missing.yaml"):
        command_line_sections(ros_args(str(tmp_path / "missing.yaml")))


# --- types: every file, ints for doubles ------------------------------------------------------------

@pytest.mark.parametrize("kind, value", [(Type.DOUBLE, 1), (Type.DOUBLE, 0.5), (Type.DOUBLE_ARRAY, [1, 2]),
                                         (Type.DOUBLE_ARRAY, []), (Type.INTEGER, 3), (Type.BOOL, False),
                                         (Type.STRING, "x"), (Type.STRING_ARRAY, ["a"]), (Type.NOT_SET, "any")])
def test_values_of_the_declared_type_and_ints_for_doubles_fit(kind: Parameter.Type, value: object) -> None:
    assert type_problem(kind, value) is None


@pytest.mark.parametrize("kind, value, problem", [
    (Type.DOUBLE, "abc", "must be a double (or an integer), got 'abc' (a string)"),
    (Type.DOUBLE, True, "got True (a bool)"), (Type.INTEGER, 1.5, "must be an integer, got 1.5 (a double)"),
    (Type.INTEGER, True, "got True (a bool)"), (Type.STRING, 5, "must be a string, got 5 (an integer)"),
    (Type.INTEGER_ARRAY, [0.5], "must be a list of integers, got [0.5] (a list of doubles)"),
    (Type.DOUBLE_ARRAY, 0.5, "must be a list of doubles (or integers)")])
def test_values_of_another_type_are_named(kind: Parameter.Type, value: object, problem: str) -> None:
    assert problem in type_problem(kind, value)


def test_ints_become_doubles_only_where_doubles_are_declared() -> None:
    assert as_declared(Type.DOUBLE, 1) == 1.0 and isinstance(as_declared(Type.DOUBLE, 1), float)
    assert as_declared(Type.DOUBLE_ARRAY, [1, 2]) == [1.0, 2.0]
    assert isinstance(as_declared(Type.INTEGER, 1), int)


class Probe(CheckedNode):
    """A node declaring each kind of parameter the graph's nodes use."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("arm", **node_kwargs)
        self.dt = self.declare_parameter("dt", 0.1).value
        self.home = self.declare_parameter("home", [0.5, 0.0]).value
        self.steps = self.declare_parameter("steps", 15).value
        self.topic = self.declare_parameter("topic", "jsrl/state").value
        self.max_velocity = self.declare_parameter("safety.max_velocity", Type.DOUBLE_ARRAY).value


def probe(ros, *files: str) -> Probe:
    args = ros_args(*files)
    sections = command_line_sections(args)
    with parameter_sections(sections):
        node = ros.add(Probe(context=ros.context, cli_args=args))
    reject_unknown_parameters(node, sections)
    return node


def test_ints_for_doubles_and_double_arrays_are_accepted(ros, tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"arm": {"dt": 1, "home": [1, 0], "safety": {"max_velocity": [1]}}})
    node = probe(ros, first)
    assert (node.dt, node.home, node.max_velocity) == (1.0, [1.0, 0.0], [1.0])
    assert node.get_parameter("dt").type_ == Type.DOUBLE


def test_an_int_then_a_double_in_a_later_file_gives_the_later_double(ros, tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"arm": {"dt": 1, "home": [1, 0]}})
    second = params_file(tmp_path / "overrides.yaml", {"arm": {"dt": 0.05, "home": [0.25, 0.5]}})
    plain = ros.add(Node("arm", context=ros.context, cli_args=ros_args(first, second)))
    assert plain._parameter_overrides["dt"].value == 1  # rcl alone keeps the first file's int
    node = probe(ros, first, second)
    assert (node.dt, node.home) == (0.05, [0.25, 0.5])


def test_a_string_for_a_double_in_the_second_file_names_the_file_section_key_and_type(ros, tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"arm": {"dt": 0.1}})
    second = params_file(tmp_path / "overrides.yaml", {"arm": {"dt": "fast"}})
    plain = ros.add(Node("arm", context=ros.context, cli_args=ros_args(first, second)))
    assert plain.declare_parameter("dt", 0.2).value == 0.1  # rcl alone: the string is silently ignored
    with pytest.raises(ConfigError, match=rf"/arm: {second} \[arm\]: dt must be a double \(or an integer\), "
                                          r"got 'fast' \(a string\)"):
        probe(ros, first, second)


def test_a_wrong_type_in_any_file_is_an_error_even_if_a_later_file_fixes_it(ros, tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"/**": {"steps": 1.5}})
    second = params_file(tmp_path / "overrides.yaml", {"arm": {"steps": 10}})
    with pytest.raises(ConfigError, match=rf"{first} \[/\*\*\]: steps must be an integer, got 1.5"):
        probe(ros, first, second)


def test_overrides_given_to_the_constructor_are_checked_and_widened_too(ros) -> None:
    node = ros.add(Probe(context=ros.context, parameter_overrides=[Parameter("dt", value=2)]))
    assert node.dt == 2.0
    with pytest.raises(ConfigError, match="/arm: parameter topic must be a string, got 3"):
        Probe(context=ros.context, parameter_overrides=[Parameter("topic", value=3)])


# --- unknown keys ------------------------------------------------------------------------------------

def test_unknown_keys_of_a_nodes_own_sections_are_named_with_the_nearest_parameter(tmp_path: Path) -> None:
    declared = ["action_timeout", "dt", "safety.max_velocity", "use_sim_time"]
    first = params_file(tmp_path / "scenario.yaml", {"/**": {"env_id": "x"}, "sim_bridge": {"action_timout": 0.5},
                                                      "recorder": {"episode_dri": "e"}})
    second = params_file(tmp_path / "overrides.yaml", {"/ns/sim_bridge": {"safety": {"max_velocty": [1.0]}},
                                                       "/sim_bridge": {"zzz": 1}})
    sections = command_line_sections(ros_args(first, second))
    assert unknown_keys(sections, "/sim_bridge", declared) == [
        f"{first} [sim_bridge]: unknown parameter 'action_timout' (did you mean 'action_timeout'?)",
        f"{second} [/sim_bridge]: unknown parameter 'zzz' (no parameter of this node is close)"]
    assert unknown_keys(sections, "/ns/sim_bridge", declared) == [
        f"{second} [/ns/sim_bridge]: unknown parameter 'safety.max_velocty' (did you mean 'safety.max_velocity'?)"]


def test_an_old_parameter_name_is_named_with_its_new_name(tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"policy_arbiter": {"eval_every": 10},
                                                      "/**": {"eval_every": 10, "env_id": "x"}})
    assert unknown_keys(command_line_sections(ros_args(first)), "/policy_arbiter", ["eval_every_episodes"],
                        {"eval_every": "eval_every_episodes"}) == [
        f"{first} [/**]: parameter 'eval_every' is now 'eval_every_episodes'",  # shared, still the arbiter's
        f"{first} [policy_arbiter]: parameter 'eval_every' is now 'eval_every_episodes'"]


@pytest.mark.parametrize("node, old, new", [("policy_arbiter", "eval_every", "eval_every_episodes"),
                                            ("learner", "checkpoint_every", "checkpoint_every_updates"),
                                            ("weights_receiver", "learner_key_file", "learner_public_key_file")])
def test_the_nodes_refuse_their_old_parameter_names(node: str, old: str, new: str) -> None:
    assert node_class(node).RENAMED_PARAMETERS == {old: new}


def test_a_node_stops_on_an_old_parameter_name(ros, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Probe, "RENAMED_PARAMETERS", {"period": "dt"}, raising=False)
    first = params_file(tmp_path / "scenario.yaml", {"arm": {"period": 0.2}})
    with pytest.raises(ConfigError, match=r"\[arm\]: parameter 'period' is now 'dt'"):
        probe(ros, first)


def test_a_misspelt_nested_key_stops_the_node(ros, tmp_path: Path) -> None:
    first = params_file(tmp_path / "scenario.yaml", {"arm": {"safety": {"max_velocity": [1.0], "max_velocty": [2.0]}}})
    with pytest.raises(ConfigError, match=r"\[arm\]: unknown parameter 'safety.max_velocty' "
                                          r"\(did you mean 'safety.max_velocity'\?\)"):
        probe(ros, first)


@pytest.mark.parametrize("file", ["grasping_sim.yaml", "antmaze_sim.yaml", "real_arm.yaml", "record_demos.yaml",
                                  "curriculum_manager.yaml"])
def test_every_shipped_params_file_passes_the_checks_for_every_node_it_names(ros, tmp_path: Path, file: str) -> None:
    """Each node built as the bringup builds it: the shipped file, then a second file (here: only paths moved).
    The wildcard keys, which no single node can judge, must each be declared by one of the nodes."""
    shipped = str(REPO / "config" / "ros" / file)
    own = {s.name: s.params for s in read_params_file(shipped)}
    named = [s.name for s in read_params_file(shipped) if not s.shared]
    assert named
    declared_anywhere: set[str] = set()
    keys = tmp_path / "keys"  # the fleet gateways check their key files as they start
    make_key_dir(keys, [1])
    key_files = {"key_file": str(keys / actor_key_name(1)), "learner_public_key_file": str(keys / LEARNER_PUBLIC_KEY),
                 "actor_keys": [f"1={keys / actor_key_name(1)}"]}
    for name in named:
        paths = {k: str(tmp_path / name / k) for k in PATH_KEYS if own[name].get(k)}
        paths |= {k: v for k, v in key_files.items() if k in own[name]}
        if name == "weights_broadcaster":  # the learner's own key signs the weights
            paths["key_file"] = str(keys / LEARNER_KEY)
        args = ros_args(shipped, *([params_file(tmp_path / f"{name}.yaml", {name: paths})] if paths else []))
        sections = command_line_sections(args)
        with parameter_sections(sections):
            node = ros.add(node_class(name)(context=ros.context, cli_args=args))
        reject_unknown_parameters(node, sections)
        declared_anywhere |= set(node.list_parameters([], 0).names)
        ros.remove(node)
    assert set(own.get("/**", {})) <= declared_anywhere


# --- a real node process: one line on stderr, exit code 2 --------------------------------------------

def process_env(ros) -> dict[str, str]:
    return {**os.environ, "ROS_DOMAIN_ID": str(ros.context.get_domain_id()), "AMENT_PREFIX_PATH": sys.prefix,
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def run_recorder(ros, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jsrl_ros.nodes.recorder", *ros_args(*files)], env=process_env(ros),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("overrides, message", [
    ({"close_timout": 2.0}, "[recorder]: unknown parameter 'close_timout' (did you mean 'close_timeout'?)"),
    ({"close_timeout": "abc"}, "[recorder]: close_timeout must be a double (or an integer), got 'abc' (a string)")])
def test_a_recorder_with_a_mistyped_parameter_exits_2_with_one_line(ros, tmp_path: Path, overrides: dict,
                                                                     message: str) -> None:
    second = params_file(tmp_path / "overrides.yaml", {"recorder": {"episode_dir": str(tmp_path), **overrides}})
    result = run_recorder(ros, str(REPO / "config" / "ros" / "grasping_sim.yaml"), second)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr  # before it: the node's own log lines, if any
    assert result.stderr.strip().splitlines()[-1] == f"error: /recorder: {second} {message}"


def test_a_recorder_given_an_int_for_dt_runs_with_the_double(ros, tmp_path: Path) -> None:
    """``dt: 1`` in the second file: a traceback before; now the node reports on diagnostics with dt = 1.0."""
    second = params_file(tmp_path / "overrides.yaml", {"recorder": {"episode_dir": str(tmp_path), "dt": 1}})
    process = subprocess.Popen([sys.executable, "-m", "jsrl_ros.nodes.recorder",
                                *ros_args(str(REPO / "config" / "ros" / "grasping_sim.yaml"), second)],
                               env=process_env(ros), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        watcher = ros.node("watcher")
        reports = []
        watcher.create_subscription(DiagnosticArray, DIAGNOSTICS, reports.append, RELIABLE)
        assert ros.spin_until(lambda: reports or process.poll() is not None, timeout_s=120.0)
        assert process.poll() is None, process.communicate()[0]
        client = AsyncParameterClient(watcher, "recorder")
        assert client.wait_for_services(timeout_sec=30.0)
        future = client.get_parameters(["dt"])
        assert ros.spin_until(future.done, timeout_s=30.0)
        [value] = future.result().values
        assert value.type == Type.DOUBLE and value.double_value == 1.0
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.skipif(not (Path(sys.prefix) / "lib/jsrl_ros/jsrl_bringup").is_file(),
                    reason="package not installed (run scripts/test.sh)")
def test_the_bringup_stops_on_a_misspelt_set_and_says_what_the_node_said(ros, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "jsrl_ros.bringup.main", "--graph", "grasping_sim", "--headless", "--out",
               str(tmp_path / "run"), "--duration", "120", "--set", "recorder.close_timout=1"]
    result = subprocess.run(command, cwd=REPO, env=process_env(ros), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    overrides = tmp_path / "run" / "params" / "overrides.yaml"
    assert (f"error: recorder exited with code 2: /recorder: {overrides} [recorder]: unknown parameter 'close_timout' "
            f"(did you mean 'close_timeout'?)") in result.stderr
    assert "started sim_bridge" not in result.stdout  # the graph never began to step
