"""The real_arm graph: its YAML names only parameters its nodes declare, and with hardware:=fake it runs
end to end through the same nodes as the sim graph (bridge -> observation -> arbiter -> bridge,
recorder -> learner, curriculum), as separate processes started by the embedded bringup."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rclpy.parameter import Parameter
from real_arm_helpers import CONFIG, flat
from ros_helpers import fresh_domain_id
from test_graph_config import WILDCARD, node_class, params_of

from jsrl_ros.bringup.graph import GRAPHS
from jsrl_ros.recording.episode_bags import list_episode_bags, read_episode


def test_every_real_arm_yaml_parameter_is_declared_by_its_node(ros, tmp_path: Path) -> None:
    params = params_of(CONFIG.name)
    graph = GRAPHS["real_arm"].build(hardware="fake", guide="teleop")
    executables = {spec.name: spec.executable for spec in graph.nodes}
    executables["teleop_keyboard"] = "teleop_keyboard"
    assert set(params) - {WILDCARD} <= set(executables)
    declared_anywhere: set[str] = set()
    for name, executable in sorted(executables.items()):
        values = flat({**params.get(WILDCARD, {}), **params.get(name, {})})
        for key in ("episode_dir", "checkpoint_path", "state_file"):
            if key in values:
                values[key] = str(tmp_path / name / key)
        node = ros.add(node_class(executable)(context=ros.context,
                                              parameter_overrides=[Parameter(k, value=v) for k, v in values.items()]))
        declared = set(node._parameters)
        assert set(flat(params.get(name, {}))) <= declared, (name, set(flat(params.get(name, {}))) - declared)
        declared_anywhere |= declared
        ros.remove(node)
    assert set(params[WILDCARD]) <= declared_anywhere


def test_the_fake_hardware_graph_runs_end_to_end(tmp_path: Path) -> None:
    bringup = Path(sys.prefix) / "lib/jsrl_ros/jsrl_bringup"
    if not (Path(sys.prefix) / "lib/jsrl_ros/real_arm_bridge").is_file():
        pytest.skip("package not installed into this interpreter's prefix (run scripts/test.sh)")
    env = {**os.environ, "ROS_DOMAIN_ID": str(fresh_domain_id()), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "AMENT_PREFIX_PATH": os.environ.get("AMENT_PREFIX_PATH", sys.prefix)}
    out = tmp_path / "run"
    result = subprocess.run([str(bringup), "--graph", "real_arm", "--hardware", "fake", "--headless", "--out", str(out),
                             "--episodes", "2", "--duration", "150"],
                            capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "stopping: " in result.stdout and "episodes recorded" in result.stdout, result.stdout[-3000:]
    codes = dict(re.findall(r"(\w+) (-?\d+)", result.stdout.split("exit codes:")[-1]))
    assert codes["real_arm_bridge"] == "0" and codes["fake_arm"] == "0", result.stdout[-2000:]
    bags = list_episode_bags(out / "episodes")
    assert len(bags) >= 2
    for bag in bags:
        recorded = read_episode(bag)
        assert recorded.meta.obs_mode == "image" and recorded.meta.bridge_success is not None
        assert recorded.episode.obs["image"].shape[1:] == (64, 64, 3)
        assert recorded.episode.obs["proprio"].shape[1:] == (7,)
        assert recorded.meta.length == len(recorded.episode.actions) > 0
