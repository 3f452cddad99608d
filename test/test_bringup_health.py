"""The embedded bringup treats a node reporting ERROR on diagnostics as dead, over real processes.

A two-node graph of stand-in nodes (``healthy`` and ``sick``) runs under the real ``run()``:
``sick`` raises a WARN after a moment (printed once) and then an ERROR, as the learner does
when its training thread dies. The bringup must stop the graph, name ``sick`` and its
message, and exit 1. Meanwhile this test forges, from another node, ERROR statuses in
``healthy``'s name, a guide-step of 0 and an episode summary: none of them may stop the run
(``--until-guide-step 0 --episodes 1``).
"""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32

from jsrl_ros.bringup import main as bringup
from jsrl_ros.bringup.graph import Graph, GraphDef, NodeSpec, Option
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import StepClock

STAND_IN = '''
import sys

from rclpy.node import Node

from jsrl_ros.runtime.diagnostics import ERROR, WARN, Health, publish_counters
from jsrl_ros.runtime.spin import spin_node


class StandIn(Node):
    """Reports on diagnostics; raises a WARN after ``warn_after`` s and an ERROR after ``fail_after`` s (< 0: never)."""

    def __init__(self) -> None:
        super().__init__("stand_in")
        self.health = Health()
        publish_counters(self, lambda: {"dropped": 0}, period_s=0.2, health=self.health)
        for name, level, message in (("warn_after", WARN, "almost full"),
                                     ("fail_after", ERROR, "the training thread died: boom")):
            after = self.declare_parameter(name, -1.0).value
            if after >= 0:
                self.once(after, lambda level=level, message=message: self.health.alarm("worker", level, message))

    def once(self, after: float, action) -> None:
        def fire() -> None:
            timer.cancel()
            action()
        timer = self.create_timer(after, fire)


sys.exit(spin_node(StandIn))
'''


def stand_in_graph(prefix: Path, out: Path) -> argparse.Namespace:
    """An installed-looking prefix with the stand-in executable, and the bringup's arguments for its graph."""
    lib = prefix / "lib" / bringup.PACKAGE
    lib.mkdir(parents=True)
    executable = lib / "stand_in"
    executable.write_text(f"#!{sys.executable}\n{STAND_IN}")
    executable.chmod(0o755)
    params = prefix / "stand_in.yaml"
    params.write_text(yaml.safe_dump({"sick": {"ros__parameters": {"warn_after": 1.0, "fail_after": 4.0}}}))
    return argparse.Namespace(graph="stand_in", options={}, out=str(out), params=str(params), set=[],
                              duration=90.0, episodes=1, until_guide_step=0)


def test_a_node_reporting_error_stops_the_graph_with_exit_code_1_and_forged_statuses_do_not(
        ros, tmp_path: Path, monkeypatch, capsys) -> None:
    graph = Graph("stand_in.yaml", [NodeSpec("stand_in", "healthy"), NodeSpec("stand_in", "sick")])
    monkeypatch.setitem(bringup.GRAPHS, "stand_in", GraphDef(
        build=lambda out_dir: graph, options=(Option("out_dir", "runs/stand_in", "output folder"),),
        description="stand-in nodes"))
    monkeypatch.setattr(bringup, "package_prefix", lambda: tmp_path / "prefix")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros.context.get_domain_id()))
    args = stand_in_graph(tmp_path / "prefix", tmp_path / "out")

    forger = ros.node("forger")
    status = forger.create_publisher(DiagnosticArray, "diagnostics", RELIABLE)
    guide_step = forger.create_publisher(Int32, "jsrl/guide_step", LATCHED)
    summary = forger.create_publisher(JointState, "jsrl/episode_summary", RELIABLE)

    def forge() -> None:
        status.publish(DiagnosticArray(status=[DiagnosticStatus(level=DiagnosticStatus.ERROR, name="healthy",
                                                                message="forged")]))
        guide_step.publish(Int32(data=0))
        summary.publish(named_vector(EPISODE_SUMMARY_NAMES, [0, 0, 1, 1, 1, 3], StepClock(0.1).stamp(0, 3)))

    forger.create_timer(0.1, forge)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(bringup.run(args)))
    runner.start()
    try:
        assert ros.spin_until(lambda: bool(result), timeout_s=120.0), capsys.readouterr()  # forging all along
    finally:
        runner.join(timeout=60.0)
    out, err = capsys.readouterr()
    assert result == [1], (out, err)
    assert "error: sick reports ERROR: worker: the training thread died: boom; stopping the graph" in err, err
    assert "healthy" not in err and "forged" not in out + err
    assert out.count("warning: sick: worker: almost full") == 1, out
    assert "exit codes: healthy 0, sick 0" in out, out
