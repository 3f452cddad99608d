"""Contract of the policy arbiter node over real rclpy: JSRL's switch, the human guide, checkpoint swaps."""
from __future__ import annotations

import math
import threading
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState, Joy
from std_msgs.msg import Int32MultiArray, String

from jsrl_learning.checkpoint import save_checkpoint
from jsrl_learning.config import from_mapping
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import EPISODE_INFO_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.nodes.policy_arbiter import PolicyArbiter, load_explorer
from jsrl_ros.teleop_mapping import ACTION_NAMES, twist_to_action

CLOCK = StepClock(0.1)
OBS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
GUIDE_ACTION = [0.5, -0.5, 0.25, 0.0, -1.0]
TINY = {"hidden": [8], "cem": {"n_samples": 8, "n_iters": 1, "n_elites": 2}}


def explorer_checkpoint(path: Path, seed: int) -> Path:
    config = {**TINY, "seed": seed}
    learner = QTOptLearner(from_mapping(QTOptConfig, config, "test"), OBS, ACT)
    save_checkpoint(path, {"policy": policy_state("qtopt", config, OBS, ACT, learner)})
    return path


def obs_at(t: int) -> np.ndarray:
    return np.array([0.1 * t, -0.2, 0.3, 0.05 * t], np.float32)


class Rig:
    """The arbiter's neighbours: a bridge's observations, the curriculum's choices, a learner's announcements."""

    def __init__(self, ros, choices: list[int], checkpoint: Path, load=load_explorer, **params) -> None:
        overrides = [Parameter("dt", value=0.1), Parameter("action_names", value=list(ACTION_NAMES)),
                     *(Parameter(k, value=v) for k, v in params.items())]
        self.ros = ros
        self.arbiter = ros.add(PolicyArbiter(load=load, context=ros.context, parameter_overrides=overrides))
        self.node = ros.node("rig")
        self.actions: dict[tuple[int, int], list[float]] = {}
        self.action_count = 0
        self.infos: list[list[float]] = []
        self.owners: list[str] = []
        self.node.create_subscription(JointState, "jsrl/action", self._on_action, RELIABLE)
        self.node.create_subscription(JointState, "jsrl/episode_info", lambda m: self.infos.append(list(m.position)),
                                      RELIABLE)
        self.node.create_subscription(String, "jsrl/control_owner", lambda m: self.owners.append(m.data), LATCHED)
        self.state_pub = self.node.create_publisher(JointState, "jsrl/state", RELIABLE)
        self.guide_pub = self.node.create_publisher(JointState, "jsrl/guide_action", RELIABLE)
        self.choices_pub = self.node.create_publisher(Int32MultiArray, "jsrl/guide_step_choices", LATCHED)
        self.checkpoint_pub = self.node.create_publisher(String, "jsrl/checkpoint", LATCHED)
        self.choices_pub.publish(Int32MultiArray(data=choices))
        self.announce(checkpoint)
        assert ros.spin_until(lambda: self.arbiter.slot.current is not None and self.arbiter.choices == choices
                              and self.state_pub.get_subscription_count() > 0)

    def _on_action(self, msg: JointState) -> None:
        self.actions[CLOCK.identity(msg.header.stamp)] = list(msg.position)
        self.action_count += 1

    def announce(self, path: Path | str) -> None:
        self.checkpoint_pub.publish(String(data=str(path)))

    def step(self, episode: int, t: int, guide: bool = True) -> list[float]:
        """Publish observation (episode, t) (and the scripted guide's action); the arbiter's answer."""
        stamp = CLOCK.stamp(episode, t)
        if guide:
            self.guide_pub.publish(named_vector(ACTION_NAMES, GUIDE_ACTION, stamp))
        self.state_pub.publish(named_vector(state_names(4), obs_at(t), stamp))
        assert self.ros.spin_until(lambda: (episode, t) in self.actions), f"no action for {(episode, t)}"
        return self.actions[(episode, t)]


def reference(path: Path):
    """An independent copy of a checkpoint's explorer: same weights, same acting RNG."""
    return load_explorer(str(path)).learner


def same(a, b) -> bool:
    return np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), atol=1e-6)


def test_the_guide_acts_exactly_h_steps_then_the_explorer_and_control_passes(ros, tmp_path: Path) -> None:
    ckpt = explorer_checkpoint(tmp_path / "a.pt", seed=0)
    rig = Rig(ros, [3], ckpt, guide="scripted", eval_every_episodes=0)
    explorer = reference(ckpt)
    actions = [rig.step(0, t) for t in range(6)]
    assert all(same(a, GUIDE_ACTION) for a in actions[:3])
    for t in range(3, 6):
        assert same(actions[t], explorer.act(obs_at(t), explore=True)), t
    assert rig.infos == [[0.0, 3.0, 0.0]] and list(EPISODE_INFO_NAMES) == ["episode", "guide_step", "evaluation"]
    assert ros.spin_until(lambda: rig.owners == ["guide", "explorer"]), rig.owners

    before = rig.action_count
    rig.state_pub.publish(named_vector(state_names(4), obs_at(5), CLOCK.stamp(0, 5)))  # the bridge re-published
    assert ros.spin_until(lambda: rig.action_count == before + 1)
    assert same(rig.actions[(0, 5)], actions[5])
    assert same(rig.step(0, 6), explorer.act(obs_at(6), explore=True))  # answered again without acting again

    assert same(rig.step(1, 0), GUIDE_ACTION)  # a new episode: the guide again
    assert ros.spin_until(lambda: rig.owners == ["guide", "explorer", "guide"]), rig.owners
    assert rig.infos[-1] == [1.0, 3.0, 0.0]


def test_evaluation_episodes_are_flagged_greedy_and_use_the_largest_choice(ros, tmp_path: Path) -> None:
    ckpt = explorer_checkpoint(tmp_path / "a.pt", seed=1)
    rig = Rig(ros, [0, 1], ckpt, guide="scripted", eval_every_episodes=2, eval_episodes=1, seed=5)
    explorer = reference(ckpt)
    for episode in range(3):
        rig.step(episode, 0)
        rig.step(episode, 1)
    infos = [(int(e), int(h), bool(ev)) for e, h, ev in rig.infos]
    assert [ev for _, _, ev in infos] == [False, False, True]
    assert infos[2][1] == 1  # max of the choices
    assert same(rig.actions[(2, 0)], GUIDE_ACTION)
    expected = [explorer.act(obs_at(1), explore=evaluation is False) for evaluation in (False, False, True)]
    assert [same(rig.actions[(e, 1)], expected[e]) for e in range(3)] == [True] * 3  # greedy only in evaluation


def test_a_human_on_twist_drives_the_first_h_steps_then_hands_over(ros, tmp_path: Path) -> None:
    ckpt = explorer_checkpoint(tmp_path / "a.pt", seed=2)
    rig = Rig(ros, [3], ckpt, guide="human", eval_every_episodes=0, human_timeout=5.0)
    explorer = reference(ckpt)
    twist = Twist()
    twist.linear.x, twist.angular.z = 0.25, -0.5
    twist_pub = rig.node.create_publisher(Twist, "teleop/cmd_vel", RELIABLE)
    joy_pub = rig.node.create_publisher(Joy, "joy", RELIABLE)
    rig.node.create_timer(0.05, lambda: twist_pub.publish(twist))  # a human holding a key
    commanded = twist_to_action(twist)
    assert same(commanded, [0.5, 0.0, 0.0, -0.5, -1.0])

    def step_with_a_fresh_command(t: int) -> list[float]:
        assert ros.spin_until(lambda: rig.arbiter.human.source.latest() is not None)
        return rig.step(0, t, guide=False)

    # t = 0 starts from idle (the guide forgets the previous episode's command, e.g. a grasp)
    actions = [step_with_a_fresh_command(t) for t in range(5)]
    assert same(actions[0], np.zeros(5)) and same(actions[1], commanded) and same(actions[2], commanded)
    assert same(actions[3], explorer.act(obs_at(3), explore=True))
    assert same(actions[4], explorer.act(obs_at(4), explore=True))
    assert ros.spin_until(lambda: rig.owners == ["guide", "explorer"])

    bad = Twist()
    bad.linear.y = math.nan
    twist_pub.publish(bad)
    joy_pub.publish(Joy(axes=[0.0], buttons=[1]))  # too few axes for the mapping
    assert ros.spin_until(lambda: rig.arbiter.dropped == 2)


def test_a_checkpoint_loads_in_the_background_while_the_loop_keeps_answering(ros, tmp_path: Path) -> None:
    first, second = explorer_checkpoint(tmp_path / "a.pt", seed=3), explorer_checkpoint(tmp_path / "b.pt", seed=4)
    gate = threading.Event()

    def slow_second(path: str):
        if path == str(second):
            gate.wait()  # a load that takes as long as the test wants
        return load_explorer(path)

    rig = Rig(ros, [0], first, load=slow_second, guide="scripted", eval_every_episodes=0)
    old, new = reference(first), reference(second)
    rig.announce(second)
    for t in range(3):  # the load is stuck: every step is still answered, by the old explorer
        assert same(rig.step(0, t, guide=False), old.act(obs_at(t), explore=True))
    assert rig.arbiter.slot.loads == 1
    gate.set()
    assert ros.spin_until(lambda: rig.arbiter.slot.loads == 2)
    assert same(rig.step(0, 3, guide=False), new.act(obs_at(3), explore=True))

    rig.announce(tmp_path / "missing.pt")
    assert ros.spin_until(lambda: rig.arbiter.slot.failures == 1)
    assert same(rig.step(0, 4, guide=False), new.act(obs_at(4), explore=True))  # kept the previous explorer


@pytest.mark.parametrize("publish", [
    lambda rig: rig.state_pub.publish(named_vector(["x", "y", "z", "w"], obs_at(0), CLOCK.stamp(0, 0))),
    lambda rig: rig.state_pub.publish(named_vector(state_names(4), [0, math.inf, 0, 0], CLOCK.stamp(0, 0))),
    lambda rig: rig.state_pub.publish(named_vector(state_names(3), [0, 0, 0], CLOCK.stamp(0, 0))),
    lambda rig: rig.state_pub.publish(named_vector(state_names(4), obs_at(0), Time(sec=0, nanosec=12345))),
    lambda rig: rig.guide_pub.publish(named_vector(["a"], [0.0], CLOCK.stamp(0, 0))),
    lambda rig: rig.choices_pub.publish(Int32MultiArray(data=[])),
    lambda rig: rig.choices_pub.publish(Int32MultiArray(data=[3, -1])),
    lambda rig: rig.checkpoint_pub.publish(String(data="")),
], ids=["state names", "state inf", "state length", "off-grid stamp", "guide names", "no choices",
        "negative choice", "empty checkpoint path"])
def test_malformed_inputs_are_dropped_counted_and_the_loop_goes_on(ros, tmp_path: Path, publish) -> None:
    ckpt = explorer_checkpoint(tmp_path / "a.pt", seed=0)
    rig = Rig(ros, [1], ckpt, guide="scripted", eval_every_episodes=0)
    publish(rig)
    assert ros.spin_until(lambda: rig.arbiter.dropped == 1)
    assert not rig.actions and rig.arbiter.choices == [1]
    assert same(rig.step(0, 0), GUIDE_ACTION)
    assert same(rig.step(0, 1), reference(ckpt).act(obs_at(1), explore=True))


# --- hostile input (issue 11): each reproduced a crash or a stall before the edge checks ---------------


def test_a_negative_stamp_before_the_first_episode_is_dropped_not_a_crash(ros, tmp_path: Path) -> None:
    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    negative = Time(sec=-5, nanosec=0)
    rig.guide_pub.publish(named_vector(ACTION_NAMES, GUIDE_ACTION, negative))
    rig.state_pub.publish(named_vector(state_names(4), obs_at(0), negative))
    assert ros.spin_until(lambda: rig.arbiter.dropped == 2)
    assert not rig.actions and not rig.infos
    assert same(rig.step(0, 0), GUIDE_ACTION)


def test_a_forged_future_step_neither_starts_an_episode_nor_stalls_the_loop(ros, tmp_path: Path) -> None:
    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    rig.step(0, 0)
    rig.step(0, 1)
    for episode, t in ((50, 0), (50, 3), (0, 7)):  # another episode; a step ahead of the bridge's cadence
        rig.state_pub.publish(named_vector(state_names(4), obs_at(t), CLOCK.stamp(episode, t)))
    assert ros.spin_until(lambda: rig.arbiter.dropped == 3)
    assert rig.arbiter.episode == 0 and len(rig.infos) == 1
    rig.step(0, 2)  # the real loop goes on
    assert same(rig.step(1, 0), GUIDE_ACTION) and rig.arbiter.episode == 1


def test_a_malformed_copy_of_the_answered_step_is_dropped_not_answered_again(ros, tmp_path: Path) -> None:
    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    rig.step(0, 0)
    before = rig.action_count
    rig.state_pub.publish(named_vector(["x"] * 4, obs_at(0), CLOCK.stamp(0, 0)))
    assert ros.spin_until(lambda: rig.arbiter.dropped == 1)
    assert rig.action_count == before and rig.arbiter.stale == 0


def test_a_second_publisher_of_observations_is_reported(ros, tmp_path: Path) -> None:
    from jsrl_ros.runtime.diagnostics import WARN

    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    rig.step(0, 0)
    assert ros.spin_until(lambda: rig.arbiter.watch.owners["/jsrl/state"] == "rig")
    intruder = ros.node("intruder")
    intruder.create_publisher(JointState, "jsrl/state", RELIABLE)
    assert ros.spin_until(lambda: not rig.arbiter.watch.trusted("jsrl/state"))
    level, message = rig.arbiter.health.status()
    assert level == WARN and "foreign publisher on /jsrl/state: intruder" in message
    assert rig.arbiter.watch.detections == 1
    ros.remove(intruder)
    assert ros.spin_until(lambda: rig.arbiter.watch.trusted("jsrl/state") and rig.arbiter.health.status()[0] == 0)
    rig.step(0, 1)


def test_a_second_arbiter_refuses_to_start_and_the_first_reports_it(ros, tmp_path: Path) -> None:
    from jsrl_learning.config import ConfigError

    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    rig.arbiter.watch.started -= 60.0  # the incumbent has been running for a minute
    overrides = [Parameter("dt", value=0.1), Parameter("action_names", value=list(ACTION_NAMES))]
    second = ros.add(PolicyArbiter(context=ros.context, parameter_overrides=overrides))
    with pytest.raises(ConfigError, match="already has a publisher"):
        ros.spin_until(lambda: False, timeout_s=5.0)
    ros.remove(second)
    assert rig.arbiter.watch.detections == 2  # jsrl/action and jsrl/episode_info
    assert "second publisher on /jsrl/action" in rig.arbiter.health.status()[1]


def test_images_of_another_size_never_reach_a_policy(ros, tmp_path: Path) -> None:
    from sensor_msgs.msg import Image

    from jsrl_ros.contract.conversions import numpy_to_image

    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0,
              obs_mode="image")
    images = rig.node.create_publisher(Image, "jsrl/obs/image", 10)
    assert ros.spin_until(lambda: images.get_subscription_count() > 0)
    images.publish(numpy_to_image(np.zeros((16, 16, 3), np.uint8), CLOCK.stamp(0, 0)))
    rig.step(0, 0)
    images.publish(numpy_to_image(np.zeros((32, 32, 3), np.uint8), CLOCK.stamp(0, 1)))
    rig.state_pub.publish(named_vector(state_names(4), obs_at(1), CLOCK.stamp(0, 1)))
    assert ros.spin_until(lambda: rig.arbiter.dropped == 1)
    assert (0, 1) not in rig.actions


def test_a_forged_first_step_of_the_next_episode_delays_the_loop_but_never_stalls_it(ros, tmp_path: Path) -> None:
    rig = Rig(ros, [1], explorer_checkpoint(tmp_path / "a.pt", seed=0), guide="scripted", eval_every_episodes=0)
    rig.arbiter.gate.resync_s = 1.0  # (5 s by default)
    rig.step(0, 0)
    rig.guide_pub.publish(named_vector(ACTION_NAMES, GUIDE_ACTION, CLOCK.stamp(1, 0)))
    rig.state_pub.publish(named_vector(state_names(4), obs_at(0), CLOCK.stamp(1, 0)))
    assert ros.spin_until(lambda: rig.arbiter.episode == 1)

    def resend() -> None:  # the bridge re-publishes its unanswered step, as on action_timeout
        stamp = CLOCK.stamp(0, 1)
        rig.guide_pub.publish(named_vector(ACTION_NAMES, GUIDE_ACTION, stamp))
        rig.state_pub.publish(named_vector(state_names(4), obs_at(1), stamp))

    timer = rig.node.create_timer(0.25, resend)
    assert ros.spin_until(lambda: (0, 1) in rig.actions, 20.0)
    rig.node.destroy_timer(timer)
    assert rig.arbiter.episode == 0
    rig.step(0, 2)
    assert same(rig.step(1, 0), GUIDE_ACTION)
