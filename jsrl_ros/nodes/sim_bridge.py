"""Sim bridge node: a gymnasium env stepped in lockstep with ``jsrl/action``, behind the topic contract.

It owns the env and the step clock. Every observation of step (e, t) goes out stamped
(e, t); an action stamped (e, t) with the contract's names steps the env once; anything
else is dropped and counted. The outcome goes out on ``jsrl/step`` stamped (e, t+1), then
the observation of step t+1 — also at the end of an episode (the recorder needs the final
observation), after which the env auto-resets into episode e+1.

Lockstep never deadlocks on a lost message: if no valid action arrives within
``action_timeout`` seconds, the current step's messages are published again, unchanged
(same stamp, so receivers treat them idempotently).

``realtime``: step no faster than one step per ``dt`` of wall time (a valid action waits
for the next tick), for a human guide who needs the sim to run at the speed they watch.
``gui``: the env runs in the simulator's own window (its ``gui`` kwarg: pybullet's GUI,
MuJoCo's viewer), for a person at a machine with a display.

A *scripted* guide (``guide_target``, a ``module:factory`` called as ``factory(env)``, as
``make_guide`` does) runs here, next to the env: the grasping script reads the
simulator's privileged state, which exists only in this process. Its action for each
observation goes out on ``jsrl/guide_action`` with the observation's stamp, and the
arbiter uses it while the guide is in control. See docs/architecture.md.

A second publisher of actions is reported, and a second bridge on the same topics is
refused (:class:`GraphWatch`).
"""
from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from jsrl_learning.config import ConfigError, require
from jsrl_learning.guides import GuideSpec, make_guide
from jsrl_learning.rollout import SUCCESS_KEYS
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, named_vector, named_vector_values, numpy_to_image
from jsrl_ros.contract.names import STEP_NAMES
from jsrl_ros.contract.qos import RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.env_params import declare_env, yaml_mapping
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node

FLOAT32_MAX = float(np.finfo(np.float32).max)


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of episode ``episode``: a restarted bridge replays the same episodes."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


class SimBridge(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("sim_bridge", **node_kwargs)
        where = f"{self.get_name()} parameters"
        dt = self.declare_parameter("dt", 0.1).value
        self.action_names = list(self.declare_parameter("action_names", Parameter.Type.STRING_ARRAY).value or [])
        self.seed = self.declare_parameter("seed", 0).value
        first_episode = self.declare_parameter("first_episode", 0).value
        wait_for_nodes = list(self.declare_parameter("wait_for_nodes", Parameter.Type.STRING_ARRAY).value or [])
        self.action_timeout = self.declare_parameter("action_timeout", 0.5).value
        publish_camera = self.declare_parameter("publish_camera", False).value
        realtime = self.declare_parameter("realtime", False).value
        gui = self.declare_parameter("gui", False).value
        guide_target = self.declare_parameter("guide_target", "").value
        guide_kwargs = yaml_mapping(self.declare_parameter("guide_kwargs", "").value, f"{where}.guide_kwargs")
        self.frame_id = self.declare_parameter("camera_frame", "camera").value
        require(self.action_timeout > 0, where, f"action_timeout must be > 0 s, got {self.action_timeout}")
        require(first_episode >= 0, where, f"first_episode must be >= 0, got {first_episode}")
        try:
            self.clock = StepClock(dt)
        except ValueError as exc:
            raise ConfigError(f"{where}: dt: {exc}") from exc

        self.env = declare_env(self, where, **({"render_mode": "rgb_array"} if publish_camera else {}),
                               **({"gui": True} if gui else {}))
        self.image_mode = isinstance(self.env.observation_space, gym.spaces.Dict)
        self.render = publish_camera and not self.image_mode  # image mode publishes its observation image
        n_actions = int(np.prod(self.env.action_space.shape))
        require(len(self.action_names) == n_actions and all(self.action_names), where,
                f"action_names must name the env's {n_actions} action dimensions, got {self.action_names}")
        self.guide = None
        if guide_target:
            self.guide = make_guide(GuideSpec(kind="scripted", target=guide_target, kwargs=guide_kwargs),
                                    self.env.unwrapped, f"{where}.guide_target")

        self.image_pub = self.create_publisher(Image, topics.CAMERA_IMAGE, SENSOR)
        self.state_pub = self.create_publisher(JointState, topics.STATE, RELIABLE)
        self.step_pub = self.create_publisher(JointState, topics.STEP, RELIABLE)
        self.guide_pub = self.create_publisher(JointState, topics.GUIDE_ACTION, RELIABLE)
        self.create_subscription(JointState, topics.ACTION, self.on_action, RELIABLE)
        self.health = Health()
        self.watch = GraphWatch(self, self.health)
        self.watch.expect(topics.ACTION)
        self.watch.own([topics.STATE, topics.STEP, topics.GUIDE_ACTION])
        self.create_service(Trigger, topics.RESET, self.on_reset)
        self.dropped = self.stale = self.republished = self.steps = self.clipped = 0
        self.episode, self.t = first_episode - 1, 0
        self.current: list[tuple[Any, Any]] = []  # (publisher, message) of the current step, for re-publishing
        self.finished_key = -1  # stamp of the last episode's final observation: answers to it are moot
        self.pending: np.ndarray | None = None  # realtime: the valid action waiting for the next tick
        self.last_publish = time.monotonic()
        self.current_key = -1
        self.waiting_for = set(wait_for_nodes)
        self.start_timer = self.create_timer(0.1, self.on_start_check)
        self.on_start_check()
        self.create_timer(self.action_timeout / 2, self.on_timer)
        self.realtime = bool(realtime)
        if self.realtime:
            self.create_timer(dt, self.on_tick)
        publish_counters(self, lambda: {"episode": self.episode, "step": self.t, "steps": self.steps,
                                        "dropped": self.dropped, "stale": self.stale, "foreign": self.watch.detections,
                                        "republished": self.republished, "clipped": self.clipped}, health=self.health)
        mode = "image" if self.image_mode else "state"
        self.get_logger().info(f"{self.get_parameter('env_id').value} ({mode} observations), dt={dt}s, "
                               f"guide={'scripted ' + guide_target if self.guide else 'none here'}")

    # --- lockstep ------------------------------------------------------------------------

    def on_action(self, msg: JointState) -> None:
        key = stamp_key(msg.header.stamp)
        if key == self.finished_key:
            return  # the arbiter answered an episode's final observation: expected, nothing to do
        if key > self.current_key or key < 0:
            return self._drop(topics.ACTION, MalformedMessage(
                f"stamped {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}: a step not observed yet"))
        if key != self.current_key or self.pending is not None:
            self.stale += 1
            self.get_logger().warning(f"jsrl/action: dropped a stale action stamped {msg.header.stamp.sec}."
                                      f"{msg.header.stamp.nanosec:09d} (not the current step's; {self.stale} so far)",
                                      throttle_duration_sec=2.0)
            return
        try:
            action = named_vector_values(msg, self.action_names)
            if np.any(np.abs(action) > FLOAT32_MAX):
                raise MalformedMessage(f"values beyond float32 (the env's dtype): {action.tolist()}")
        except MalformedMessage as exc:
            return self._drop(topics.ACTION, exc)
        space = self.env.action_space
        inside = np.clip(action.reshape(space.shape), space.low, space.high)
        if not np.array_equal(inside, action.reshape(space.shape)):
            self.clipped += 1  # as the real arm's safety layer: the env takes only its own box
        action = inside.astype(np.float32)
        if self.realtime:
            self.pending = action
        else:
            self._step(action)

    def _drop(self, topic: str, exc: Exception) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped ({exc}; {self.dropped} so far)", throttle_duration_sec=2.0)

    def on_start_check(self) -> None:
        """The first episode starts once every node in ``wait_for_nodes`` listens to the observations: a
        bag opened after the first messages went out would lose them (a human's first demo)."""
        topic = self.resolve_topic_name(topics.STATE)
        listening = {info.node_name for info in self.get_subscriptions_info_by_topic(topic)}
        if not self.waiting_for <= listening:
            self.get_logger().info(f"waiting for {sorted(self.waiting_for - listening)} to subscribe to {topic}",
                                   throttle_duration_sec=5.0)
            return
        self.start_timer.cancel()
        self._start_episode()

    def on_tick(self) -> None:
        if self.pending is not None:
            action, self.pending = self.pending, None
            self._step(action)

    def _step(self, action: np.ndarray) -> None:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        self.steps += 1
        success = next((bool(info[k]) for k in SUCCESS_KEYS if k in info), reward > 0)
        stamp = self.clock.stamp(self.episode, self.t)
        self.step_pub.publish(named_vector(
            STEP_NAMES, [self.episode, self.t, reward, terminated, truncated, success], stamp))
        done = bool(terminated or truncated)
        self._publish_observation(obs, with_guide=not done)
        if done:
            self.finished_key = self.current_key
            self._start_episode()

    def _start_episode(self) -> None:
        self.episode, self.t = self.episode + 1, 0
        obs, _ = self.env.reset(seed=episode_seed(self.seed, self.episode))
        if self.guide is not None:
            self.guide.reset()
        self._publish_observation(obs, with_guide=True)

    def _publish_observation(self, obs: Any, with_guide: bool) -> None:
        stamp = self.clock.stamp(self.episode, self.t)
        self.current_key = stamp_key(stamp)
        messages: list[tuple[Any, Any]] = []
        if self.image_mode:
            messages.append((self.image_pub, numpy_to_image(obs["image"], stamp, self.frame_id)))
            vector = obs["proprio"]
        else:
            if self.render:
                messages.append((self.image_pub, numpy_to_image(self.env.render(), stamp, self.frame_id)))
            vector = obs
        if with_guide and self.guide is not None:
            messages.append((self.guide_pub, named_vector(self.action_names, np.ravel(self.guide.act(obs)), stamp)))
        messages.append((self.state_pub, named_vector(state_names(len(vector)), vector, stamp)))
        self.current = messages
        self._send()

    def _send(self) -> None:
        for publisher, msg in self.current:
            publisher.publish(msg)
        self.last_publish = time.monotonic()

    def on_timer(self) -> None:
        if self.current and self.pending is None and time.monotonic() - self.last_publish >= self.action_timeout:
            self.republished += 1
            self._send()

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        ended, at = self.episode, self.t
        self.finished_key, self.pending = self.current_key, None
        self._start_episode()
        response.success = True
        response.message = f"episode {ended} ended at step {at}; episode {self.episode} started"
        self.get_logger().info(response.message)
        return response

    def destroy_node(self) -> None:
        self.env.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return spin_node(SimBridge, argv)


if __name__ == "__main__":
    raise SystemExit(main())
