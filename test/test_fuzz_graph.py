"""The fuzz harness in CI (issue 11): every input topic of every node, attacked on a running graph.

Two graphs, each started once by the embedded bringup from this working tree: the grasping sim
graph (state mode, scripted guide) and the real-arm graph with the fake arm (human guide,
image observations, twist commands). Each input topic gets issue 11's known probes, 20
hypothesis-generated malformed messages (fixed seed: the same ones every run) and a
1000-message flood (jsrl_bench/fuzz/). After each attack:

1. no node exits (nor reports ERROR, nor lets an exception escape a callback);
2. the loop steps again within 30 s of the attack's end (a liveness bound, not a timing assertion);
3. nothing non-finite or outside the safety box reaches the arm (real-arm graph).

A failed case restarts its graph for the next one, so one bug fails one case. About two
minutes on 2 cores. The longer run: ``jsrl bench fuzz`` (docs/robustness.md).
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from jsrl_bench.fuzz.campaign import LiveGraph, Settings, TopicResult
from jsrl_bench.fuzz.catalogue import CATALOGUES

REPO = Path(__file__).resolve().parents[1]
INSTALLED = (Path(sys.prefix) / "lib" / "jsrl_ros" / "jsrl_bringup").is_file()
SETTINGS = Settings(examples=20, flood=1000, seed=0)
DOMAIN = 200 + os.getpid() % 30  # away from ros_helpers' 100+ and the default 0

#: (graph, topic) -> why it fails today: bugs found by this harness that someone is fixing
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

pytestmark = pytest.mark.skipif(not INSTALLED, reason="package not installed (run scripts/test.sh)")


class GraphHolder:
    """One graph for a whole test class; restarted (in a fresh folder) when an attack left it unusable."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name, self.folder = name, folder
        self.live: LiveGraph | None = None
        self.starts = 0
        self.arm_checked: Counter[str] = Counter()  # what the arm check saw on graphs closed so far

    def graph(self) -> LiveGraph:
        if self.live is not None and not self.live.usable():
            self.close()
        if self.live is None:
            self.starts += 1
            self.live = LiveGraph(self.name, self.folder / f"run{self.starts}", DOMAIN, REPO, REPO / "config" / "ros", SETTINGS)
            self.live.start()
        return self.live

    def close(self) -> dict[str, int]:
        if self.live is None:
            return {}
        if self.live.arm is not None:
            self.arm_checked += self.live.arm.checked
        codes, self.live = self.live.close(), None
        return codes


def holder(name: str, factory: pytest.TempPathFactory) -> Iterator[GraphHolder]:
    graphs = GraphHolder(name, factory.mktemp(name))
    try:
        yield graphs
    finally:
        graphs.close()


@pytest.fixture(scope="class")
def grasping_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphHolder]:
    yield from holder("grasping_sim", tmp_path_factory)


@pytest.fixture(scope="class")
def real_arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphHolder]:
    yield from holder("real_arm", tmp_path_factory)


def cases(graph: str) -> list:
    """One case per input topic; a known failure is a strict xfail (it must fail, until it is fixed)."""
    out = []
    for topic in CATALOGUES[graph]():
        reason = KNOWN_FAILURES.get((graph, topic.topic))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(topic.topic, id=topic.topic, marks=marks))
    return out


def explain(result: TopicResult, graph: LiveGraph) -> str:
    return "\n".join([f"{result.graph} {result.topic} (seed {result.seed}): {result.messages} messages "
                      f"({result.known} known, {result.generated} generated, {result.flood} flood), "
                      f"drops {result.drops:g}, recovery {result.recovery_s} s",
                      *(f"  problem: {p}" for p in result.problems),
                      *(f"  shot: {e}" for e in result.examples),
                      f"  logs: {graph.run.log_dir}"])


def attack_and_check(graphs: GraphHolder, topic: str) -> None:
    graph = graphs.graph()
    result = graph.attack(graph.topic(topic))
    assert result.subscribers > 0, f"nobody subscribes to {topic}: the catalogue is out of date"
    assert result.alive and result.clean, explain(result, graph)  # property 1
    assert result.stepping, explain(result, graph)  # property 2
    assert result.arm_safe is not False, explain(result, graph)  # property 3


def still_learns(graphs: GraphHolder) -> None:
    """After the campaign the learner still trains: its worker did not die silently."""
    graph = graphs.graph()
    start = graph.watch.counters.get("learner", {}).get("updates", 0.0)
    assert graph.probe.spin_until(lambda: graph.watch.counters.get("learner", {}).get("updates", 0.0) > start, 90.0), \
        graph.watch.counters.get("learner")


def every_input_is_attacked(graphs: GraphHolder) -> None:
    graph = graphs.graph()
    assert graph.unfuzzed_inputs() == []
    assert graph.startup_failures == {}  # (not the harness's doing, but never hidden)


def stops_cleanly(graphs: GraphHolder) -> None:
    graphs.graph()
    codes = graphs.close()
    assert codes and all(code == 0 for code in codes.values()), codes


class TestGraspingSim:
    def test_every_input_topic_of_every_node_is_attacked(self, grasping_sim: GraphHolder) -> None:
        every_input_is_attacked(grasping_sim)

    @pytest.mark.parametrize("topic", cases("grasping_sim"))
    def test_an_attacked_input_leaves_every_node_up_and_the_loop_stepping(self, grasping_sim: GraphHolder,
                                                                          topic: str) -> None:
        attack_and_check(grasping_sim, topic)

    def test_the_learner_still_learns(self, grasping_sim: GraphHolder) -> None:
        still_learns(grasping_sim)

    def test_ctrl_c_still_stops_every_node_cleanly(self, grasping_sim: GraphHolder) -> None:
        stops_cleanly(grasping_sim)


class TestRealArmFake:
    def test_every_input_topic_of_every_node_is_attacked(self, real_arm: GraphHolder) -> None:
        every_input_is_attacked(real_arm)

    @pytest.mark.parametrize("topic", cases("real_arm"))
    def test_an_attacked_input_leaves_every_node_up_the_loop_stepping_and_the_arm_in_its_box(
            self, real_arm: GraphHolder, topic: str) -> None:
        attack_and_check(real_arm, topic)

    def test_the_arm_commands_were_checked(self, real_arm: GraphHolder) -> None:
        """Property 3 is not vacuous: the bridge's twists and gripper commands and the arm's positions were seen."""
        checked = real_arm.arm_checked + real_arm.graph().arm.checked
        assert checked["twist"] > 0 and checked["gripper"] > 0 and checked["measured"] > 0, checked

    def test_the_learner_still_learns(self, real_arm: GraphHolder) -> None:
        still_learns(real_arm)

    def test_ctrl_c_still_stops_every_node_cleanly(self, real_arm: GraphHolder) -> None:
        stops_cleanly(real_arm)
