"""docs/human_guide.md's demo workflow, end to end, with a scripted stand-in for the human.

The page's commands, on a tiny grasping scene (``--params``: one shape, 25-step episodes)
and with short runs: ``record_demos`` records demos while :class:`TeleopStandIn` drives the
teleop topics, ``bags_to_minari`` converts the bags, ``jsrl demos train-bc`` clones a guide,
and the grasping graph runs JSRL with it (``--guide bc --bc-path``). They run from the
working tree (``python -m``), where the installed ``jsrl_bringup`` / ``jsrl`` would run the
installed copy.

The stand-in takes the keyboard teleop's place (its topics, with a gamepad's continuous
values): each step it reads what the privileged-state script would do (the record_demos
bridge runs it when ``guide_target`` is set) and sends the twist and gripper that the
arbiter's human guide maps back to that action. Like a human it reacts to what it sees, so
its command reaches the arbiter after the step it answers: it acts one step late (the sim
runs in real time, as record_demos does for a human, which keeps the lag at one step). The
script's full-speed moves overshoot under that lag and never settle; at half speed
(``speed``), like a careful human, it grasps in ~15 steps.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from jsrl_bench.grasp.world import scripted_guide_target
from jsrl_learning.checkpoint import load_checkpoint
from jsrl_learning.datasets import load_minari
from jsrl_learning.guides import BCGuide
from jsrl_ros.contract.conversions import named_vector_values
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.recording.episode_bags import list_episode_bags, read_meta
from jsrl_ros.teleop_mapping import ACTION_NAMES, TwistScales, twist_to_action

REPO = Path(__file__).resolve().parents[1]
LIB = Path(sys.prefix) / "lib" / "jsrl_ros"
ENV_KWARGS = "{task: indiscriminate, object_set: shapes, num_objects: 1, max_steps: 25}"
DEMOS, JSRL_EPISODES = 4, 3
DATASET = "human/grasp-demos-v0"
BRINGUP = [sys.executable, "-m", "jsrl_ros.bringup.main"]  # jsrl_bringup
JSRL = [sys.executable, "-m", "jsrl_bench.cli.main"]  # jsrl


class TeleopStandIn:
    """Publishes the script's action for each observation, its motion times ``speed``, as a human's
    teleop/gripper and teleop/cmd_vel_stamped: ``twist_to_action`` (the arbiter's default scales) inverted."""

    def __init__(self, node: Node, speed: float = 0.5, scales: TwistScales = TwistScales()) -> None:
        self.speed, self.scales, self.commands = speed, scales, 0
        self.twist_pub = node.create_publisher(TwistStamped, "teleop/cmd_vel_stamped", RELIABLE)
        self.gripper_pub = node.create_publisher(Float64, "teleop/gripper", RELIABLE)
        self.clock = node.get_clock()
        node.create_subscription(JointState, "jsrl/guide_action", self.on_guide_action, RELIABLE)

    def on_guide_action(self, msg: JointState) -> None:
        dx, dy, dz, dyaw, gripper = named_vector_values(msg, list(ACTION_NAMES))
        twist = TwistStamped()
        twist.header.stamp = self.clock.now().to_msg()
        twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = (
            float(v) * self.speed * self.scales.linear for v in (dx, dy, dz))
        twist.twist.angular.z = float(dyaw) * self.speed * self.scales.angular
        self.gripper_pub.publish(Float64(data=float(gripper)))
        self.twist_pub.publish(twist)
        self.commands += 1


def test_stand_in_commands_map_back_to_the_scripts_action(ros):
    """What the stand-in sends is what the arbiter's human guide turns into the script's action."""
    node = ros.node("check")
    stand_in = TeleopStandIn(node, speed=1.0)
    sent: list[TwistStamped] = []
    node.create_subscription(TwistStamped, "teleop/cmd_vel_stamped", sent.append, RELIABLE)
    action = [0.4, -1.0, 0.25, -0.5, 1.0]
    msg = JointState(name=list(ACTION_NAMES), position=action)
    stand_in.on_guide_action(msg)
    assert ros.spin_until(lambda: sent, 10.0)
    assert twist_to_action(sent[0], TwistScales(), gripper=action[4]).tolist() == pytest.approx(action)


def scenario(tmp_path: Path, config: str, shared: dict, **nodes: dict) -> Path:
    """config/CONFIG with ``shared`` in every node's section and ``nodes``' overrides."""
    params = yaml.safe_load((REPO / "config" / "ros" / config).read_text())
    params["/**"]["ros__parameters"].update(shared)
    for node, values in nodes.items():
        params[node]["ros__parameters"].update(values)
    path = tmp_path / config
    path.write_text(yaml.safe_dump(params))
    return path


def run(command: list[str], env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}"
    return done.stdout


@pytest.mark.skipif(not (LIB / "jsrl_bringup").is_file(), reason="package not installed (run scripts/test.sh)")
def test_record_demos_convert_train_bc_and_run_jsrl_with_it(ros, tmp_path):
    # the node launchers run `python -c`, which imports this working tree (conftest.py sets PYTHONPATH)
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros.context.get_domain_id()), "AMENT_PREFIX_PATH": sys.prefix,
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    demos, bc_path, jsrl = tmp_path / "demos", tmp_path / "demos" / "bc_guide.pt", tmp_path / "jsrl_bc"

    # 1. record: --headless (no keyboard window: the stand-in drives), the script in the bridge for the stand-in
    record = scenario(tmp_path, "record_demos.yaml", {"env_kwargs": ENV_KWARGS},
                      sim_bridge={"guide_target": scripted_guide_target(), "publish_camera": False})
    stand_in = TeleopStandIn(ros.node("human_stand_in"))
    log = tmp_path / "record_demos.out"
    with log.open("w") as out:  # a file, not a pipe: nobody reads while the test spins the stand-in
        recorder = subprocess.Popen([*BRINGUP, "--graph", "record_demos", "--headless", "--params", str(record),
                                     "--out", str(demos), "--episodes", str(DEMOS)],
                                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            assert ros.spin_until(lambda: recorder.poll() is not None, 150.0), "record_demos did not stop"
        finally:
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)
                recorder.wait(timeout=30)
    output = log.read_text()
    assert recorder.returncode == 0, output
    assert f"stopping: {DEMOS} episodes recorded" in output, output
    metas = [read_meta(bag) for bag in list_episode_bags(demos / "episodes")]
    assert len(metas) >= DEMOS and stand_in.commands > 0
    assert all(m.guide_type == "human" and set(m.controller) == {"guide"} for m in metas)
    assert sum(m.success for m in metas) >= 2, [(m.success, m.length) for m in metas]  # the lagging script grasps

    # 2. convert the successful demos; 3. clone them
    run([sys.executable, "-m", "jsrl_ros.recording.bags_to_minari", str(demos / "episodes"), DATASET, "--successful-only"],
        env, 60)
    data = load_minari(str(tmp_path / "minari" / DATASET))
    assert len(data) == sum(m.length for m in metas if m.success)
    run([*JSRL, "demos", "train-bc", DATASET, "--out", str(bc_path), "--updates", "200"], env, 90)
    assert BCGuide.load(bc_path).act(data.obs[0]).shape == (len(ACTION_NAMES),)

    # 4. JSRL with the BC guide, a tiny learner, no evaluation within the run
    train = scenario(tmp_path, "grasping_sim.yaml", {"env_kwargs": ENV_KWARGS, "eval_every_episodes": 100},
                     learner={"qtopt_config": "{hidden: [8], cem: {n_samples: 8, n_iters: 1, n_elites: 2}}",
                              "batch_size": 2, "checkpoint_every_updates": 2})
    output = run([*BRINGUP, "--graph", "grasping_sim", "--guide", "bc", "--bc-path", str(bc_path), "--headless",
                  "--params", str(train), "--out", str(jsrl), "--episodes", str(JSRL_EPISODES)], env, 150)
    assert f"stopping: {JSRL_EPISODES} episodes recorded" in output, output
    assert "guide=bc" in (jsrl / "logs" / "policy_arbiter.log").read_text()
    metas = [read_meta(bag) for bag in list_episode_bags(jsrl / "episodes")]
    assert len(metas) >= JSRL_EPISODES
    for m in metas:
        assert m.guide_type == "bc" and m.guide_step > 0, m
        assert m.controller[:m.guide_step] == ["guide"] * min(m.guide_step, m.length), m
    assert load_checkpoint(jsrl / "checkpoints" / "explorer.pt")["kind"] == "learner_node"
