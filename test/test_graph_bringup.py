"""The whole grasping graph, started by the embedded bringup as real node processes.

The env is made trivially easy (``lift_height`` ~ 0: a resting object already counts as
lifted, so every episode succeeds at its first step, whoever acts): the combined policy is
as good as the guide at every stage, so the curriculum must walk the guide-step down to 0
and the explorer (from the learner's checkpoints) must take over from step 0 — through
bridge, arbiter, recorder bags, learner, summaries and curriculum manager. Meanwhile this
test publishes malformed messages on every input topic; the nodes drop and count them
(read from /diagnostics and the recorder's log) and the graph keeps running. Ctrl-C (SIGINT
to the bringup) then stops every node cleanly.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from ros_helpers import bringup_command
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Int32MultiArray, String

from jsrl_learning.checkpoint import load_checkpoint
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.recording.episode_bags import list_episode_bags, read_meta
from jsrl_ros.runtime.diagnostics import counters_of

REPO = Path(__file__).resolve().parents[1]
LIB = Path(sys.prefix) / "lib" / "jsrl_ros"
MY_NODES = ("sim_bridge", "policy_arbiter", "learner", "curriculum_manager")


def scenario(tmp_path: Path) -> Path:
    """config/ros/grasping_sim.yaml with the trivial env, tiny learner, evaluation after every episode, paced."""
    params = yaml.safe_load((REPO / "config" / "ros" / "grasping_sim.yaml").read_text())
    shared = params["/**"]["ros__parameters"]
    shared.update(env_kwargs="{object_set: shapes, num_objects: 1, max_steps: 3, lift_height: 0.001}",
                  eval_every_episodes=1, eval_episodes=1)
    params["sim_bridge"]["ros__parameters"]["realtime"] = True  # 1-step episodes at 10/s: the recorder keeps up
    params["learner"]["ros__parameters"].update(
        qtopt_config="{hidden: [8], cem: {n_samples: 8, n_iters: 1, n_elites: 2}}", batch_size=2,
        checkpoint_every_updates=2, max_updates_per_step=2.0)
    params["curriculum_manager"]["ros__parameters"].update(h1=2.0, n_stages=2, window=1, tolerance=0.0)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def inject_malformed(ros) -> dict[str, int]:
    """One bad message on every input topic of the graph; returns what each node must have dropped."""
    node = ros.node("saboteur")
    bad_stamp = Time(sec=3, nanosec=123)  # not on the step clock's grid
    messages = [
        ("jsrl/action", JointState, RELIABLE, named_vector(["wrong"], [0.0], bad_stamp)),
        ("jsrl/state", JointState, RELIABLE, named_vector(["s0"], [float("nan")], bad_stamp)),
        ("jsrl/guide_action", JointState, RELIABLE, named_vector(["wrong"], [0.0], bad_stamp)),
        ("jsrl/guide_step_choices", Int32MultiArray, LATCHED, Int32MultiArray(data=[-3])),
        ("jsrl/checkpoint", String, LATCHED, String(data="")),
        ("jsrl/episode_bag", String, RELIABLE, String(data="/no/such/episode_bag")),
        ("jsrl/evaluation", Float64, RELIABLE, Float64(data=float("inf"))),
        ("jsrl/episode_summary", JointState, RELIABLE, named_vector(["episode"], [1.0], bad_stamp)),
        ("jsrl/episode_info", JointState, RELIABLE, named_vector(["episode"], [1.0], bad_stamp)),
        ("jsrl/step", JointState, RELIABLE, named_vector(["episode"], [1.0], bad_stamp)),
    ]
    publishers = [(node.create_publisher(type_, topic, qos), msg) for topic, type_, qos, msg in messages]
    assert ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p, _ in publishers), 60.0), \
        [p.topic_name for p, _ in publishers if p.get_subscription_count() == 0]
    for publisher, msg in publishers:
        publisher.publish(msg)
    # the arbiter: state, guide action, choices, checkpoint; the curriculum: evaluation, summary
    return {"sim_bridge": 1, "policy_arbiter": 4, "learner": 1, "curriculum_manager": 2}


@pytest.mark.skipif(not (LIB / "jsrl_bringup").is_file(), reason="package not installed (run scripts/test.sh)")
def test_the_graph_runs_headless_the_curriculum_reaches_the_explorer_and_bad_input_is_dropped(ros, tmp_path):
    out = tmp_path / "run"
    command, env = bringup_command(ros, "grasping_sim", scenario(tmp_path), out, "--duration", "240")
    counters: dict[str, dict[str, float]] = {}
    probe = ros.node("probe")
    probe.create_subscription(DiagnosticArray, "diagnostics", lambda m: counters.update(counters_of(m)), RELIABLE)
    # the node launchers run `python -c`, which imports this working tree (conftest.py sets PYTHONPATH)
    bringup = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert ros.spin_until(lambda: set(MY_NODES) <= set(counters), 120.0), sorted(counters)
        expected = inject_malformed(ros)
        assert ros.spin_until(lambda: all(
            counters[n].get("dropped", 0) + counters[n].get("stale", 0) >= k for n, k in expected.items()), 60.0), \
            {n: counters[n] for n in expected}
        after_injection = counters["sim_bridge"]["episode"]
        # the graph goes on: later episodes are recorded, and the curriculum reaches the explorer alone
        assert ros.spin_until(lambda: sum(read_meta(b).guide_step == 0 and read_meta(b).episode > after_injection
                                          for b in list_episode_bags(out / "episodes")) >= 3, 120.0)
        bringup.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = bringup.communicate(timeout=120)
    finally:
        if bringup.poll() is None:
            bringup.kill()
    assert bringup.returncode == 0, output
    assert "Ctrl-C: stopping the graph" in output, output
    codes = dict(item.rsplit(" ", 1) for item in output.split("exit codes: ")[1].splitlines()[0].split(", "))
    assert codes == dict.fromkeys(["sim_bridge", "policy_arbiter", "recorder", "learner", "curriculum_manager"], "0")

    metas = [read_meta(bag) for bag in list_episode_bags(out / "episodes")]
    assert all(m.success and m.length == 1 for m in metas)
    steps = [m.guide_step for m in sorted(metas, key=lambda m: m.episode)]
    assert steps[0] == 2 and steps == sorted(steps, reverse=True) and steps[-1] == 0, steps
    assert {m.guide_step for m in metas if m.evaluation} >= {2, 1}  # evaluated at each stage before advancing
    explorer_alone = [m for m in metas if m.guide_step == 0]
    assert explorer_alone and all(m.controller == ["explorer"] for m in explorer_alone)
    assert yaml.safe_load((out / "curriculum.json").read_text())["stage"] == 2
    assert load_checkpoint(out / "checkpoints" / "explorer.pt")["updates"] >= 2
    assert "dropped a message" in (out / "logs" / "recorder.log").read_text()
    assert (out / "params" / "overrides.yaml").is_file() and list((out / "tensorboard").iterdir())
