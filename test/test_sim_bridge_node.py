"""Contract of the sim bridge node over real rclpy: lockstep, drops, re-publishing, reset."""
from __future__ import annotations

import numpy as np
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import STEP_NAMES
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.nodes.sim_bridge import SimBridge

ACTIONS = ["dx", "dy", "dz", "dyaw", "gripper"]
CLOCK = StepClock(0.1)
HOLD, CLOSE = [0.0, 0.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0, 1.0]


def bridge(ros, action_timeout: float, guide: bool = True, realtime: bool = False,
           wait_for: list[str] | None = None) -> SimBridge:
    params = [Parameter("env_id", value="jsrl_sim:jsrl/Grasp-v0"),
              Parameter("env_kwargs", value="{object_set: shapes, num_objects: 2, max_steps: 4}"),
              Parameter("dt", value=0.1), Parameter("action_names", value=ACTIONS),
              Parameter("action_timeout", value=action_timeout), Parameter("seed", value=3),
              Parameter("realtime", value=realtime), *([Parameter("wait_for_nodes", value=wait_for)] if wait_for else []),
              Parameter("guide_target", value="jsrl_sim.grasping.scripted_guide:make_grasp_guide" if guide else "")]
    return ros.add(SimBridge(context=ros.context, parameter_overrides=params))


class Probe:
    """Records the bridge's outputs as (episode, step) -> message and publishes actions."""

    def __init__(self, ros) -> None:
        self.node = ros.node("probe")
        self.states: list[tuple[tuple[int, int], JointState]] = []
        self.steps: dict[tuple[int, int], list[float]] = {}
        self.guide: dict[tuple[int, int], list[float]] = {}
        self.node.create_subscription(JointState, "jsrl/state", lambda m: self.states.append((self.id(m), m)), RELIABLE)
        self.node.create_subscription(JointState, "jsrl/step",
                                      lambda m: self.steps.__setitem__(self.id(m), list(m.position)), RELIABLE)
        self.node.create_subscription(JointState, "jsrl/guide_action",
                                      lambda m: self.guide.__setitem__(self.id(m), list(m.position)), RELIABLE)
        self.actions = self.node.create_publisher(JointState, "jsrl/action", RELIABLE)

    @staticmethod
    def id(msg: JointState) -> tuple[int, int]:
        return CLOCK.identity(msg.header.stamp)

    def seen(self, ident: tuple[int, int]) -> bool:
        return any(i == ident for i, _ in self.states)

    def act(self, ident: tuple[int, int], values, names=ACTIONS) -> None:
        self.actions.publish(named_vector(names, values, CLOCK.stamp(*ident)))


def test_lockstep_drops_stale_and_malformed_actions_and_resets_after_the_episode(ros) -> None:
    probe = Probe(ros)
    node = bridge(ros, action_timeout=1.0)  # the first observation may precede discovery: re-published
    assert ros.spin_until(lambda: probe.seen((0, 0)) and (0, 0) in probe.guide)
    first = probe.states[0][1]
    assert tuple(first.name) == state_names(6 + 8 * 2) and len(probe.guide[(0, 0)]) == 5

    probe.act((0, 0), HOLD)
    assert ros.spin_until(lambda: probe.seen((0, 1)) and (0, 1) in probe.steps)
    assert probe.steps[(0, 1)][:2] == [0, 1] and probe.steps[(0, 1)][3:5] == [0, 0]  # not terminated/truncated

    probe.act((0, 0), HOLD)  # stale: step 0 is over
    assert ros.spin_until(lambda: node.stale == 1)
    probe.act((0, 1), HOLD, names=["a", "b", "c", "d", "e"])
    probe.act((0, 1), [np.nan, 0, 0, 0, -1])
    probe.act((0, 1), HOLD[:4], names=ACTIONS[:4])
    probe.act((0, 1), [1e308, 0, 0, 0, -1])  # finite in float64, inf in the env's float32: once an escaped exception
    assert ros.spin_until(lambda: node.dropped == 4)
    assert node.t == 1 and node.steps == 1  # nothing of that moved the sim

    probe.act((0, 1), CLOSE)  # close-and-lift ends the episode
    assert ros.spin_until(lambda: probe.seen((1, 0)))
    outcome = dict(zip(STEP_NAMES, probe.steps[(0, 2)]))
    assert outcome["terminated"] == 1.0 and outcome["truncated"] == 0.0
    order = [i for k, (i, _) in enumerate(probe.states) if k == 0 or probe.states[k - 1][0] != i]
    assert order == [(0, 0), (0, 1), (0, 2), (1, 0)]  # the final observation too
    assert (0, 2) not in probe.guide and (1, 0) in probe.guide  # no guide action for a final observation
    probe.act((0, 2), HOLD)  # an answer to the final observation: moot, not counted as stale
    probe.act((1, 0), HOLD)
    assert ros.spin_until(lambda: (1, 1) in probe.steps)
    assert node.stale == 1 and node.steps == 3


def test_republishes_the_same_step_without_an_action_and_resets_on_request(ros) -> None:
    probe = Probe(ros)
    node = bridge(ros, action_timeout=0.2, guide=False)
    assert ros.spin_until(lambda: sum(i == (0, 0) for i, _ in probe.states) >= 2)
    repeats = [m for i, m in probe.states if i == (0, 0)]
    assert list(repeats[0].position) == list(repeats[1].position) and node.republished >= 1
    assert not probe.guide and not probe.steps

    client = probe.node.create_client(Trigger, "jsrl/reset")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(Trigger.Request())
    assert ros.spin_until(future.done)
    assert future.result().success and "episode 0 ended at step 0" in future.result().message
    assert ros.spin_until(lambda: probe.seen((1, 0)))
    probe.act((0, 0), HOLD)  # an answer to the abandoned step: moot
    probe.act((1, 0), HOLD)
    assert ros.spin_until(lambda: (1, 1) in probe.steps)
    assert node.stale == 0 and node.episode == 1


def test_realtime_steps_on_the_clock_tick_and_a_second_answer_meanwhile_is_stale(ros) -> None:
    probe = Probe(ros)
    node = bridge(ros, action_timeout=1.0, guide=False, realtime=True)
    assert ros.spin_until(lambda: probe.seen((0, 0)))
    probe.act((0, 0), HOLD)
    probe.act((0, 0), HOLD)  # the same step again: at most one action per step
    assert ros.spin_until(lambda: (0, 1) in probe.steps and node.stale == 1)
    probe.act((0, 1), CLOSE)
    assert ros.spin_until(lambda: probe.seen((1, 0)))
    assert node.steps == 2


def test_the_first_episode_waits_until_the_recorder_listens(ros) -> None:
    """Otherwise its first messages go out before the recorder matched: a human's first demo was lost."""
    probe = Probe(ros)
    node = bridge(ros, action_timeout=0.3, wait_for=["recorder"])
    ros.spin_until(lambda: False, timeout_s=1.0)
    assert not probe.states and node.episode == -1 and node.republished == 0
    recorder = ros.node("recorder")
    recorder.create_subscription(JointState, "jsrl/state", lambda m: None, RELIABLE)
    assert ros.spin_until(lambda: probe.seen((0, 0)))
    assert node.episode == 0


def test_actions_outside_the_envs_box_are_clipped_and_counted(ros) -> None:
    probe = Probe(ros)
    node = bridge(ros, action_timeout=1.0, guide=False)
    assert ros.spin_until(lambda: probe.seen((0, 0)))
    probe.act((0, 0), [1.4e16, -3.0, 0.0, 0.0, -1.0])
    assert ros.spin_until(lambda: probe.seen((0, 1)))
    assert node.clipped == 1 and node.dropped == 0
