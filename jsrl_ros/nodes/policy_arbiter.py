"""Policy arbiter node: JSRL's switch — the guide for the first h steps of each episode, the explorer after.

Per observation of step (e, t) (``jsrl/state``, joined with ``jsrl/obs/image`` in image
mode by exact stamp) it publishes one ``jsrl/action`` with the same stamp. At the first
observation of an episode it plans the episode (:class:`EpisodePlanner`: h drawn from the
latched ``jsrl/guide_step_choices``, or an evaluation episode) and publishes
``jsrl/episode_info``. Who acts at step t is ``EpisodePlan.controller(t)``; the moment
that changes, ``jsrl/control_owner`` (latched) and a log line tell the operator.

Guides (``guide``):
* ``scripted``: the action the sim bridge's script computed for this observation
  (``jsrl/guide_action``, same stamp): the grasping script needs the simulator's
  privileged state, so it runs next to the env (docs/architecture.md);
* ``bc``: a saved BC guide (``guide_path``), run here;
* ``human``: the latest teleop command (``teleop/cmd_vel``, ``teleop/cmd_vel_stamped``,
  ``teleop/gripper``, ``joy`` with its deadman button), idle when none is fresh.

The explorer is the learner in the checkpoint announced on latched ``jsrl/checkpoint``,
loaded by a worker thread and swapped in atomically (:class:`ExplorerSlot`): the control
loop never waits for a load. Until the first one is loaded, explorer steps are not
answered (the bridge re-publishes the observation until they are).

Hot path: one dict lookup to join, one policy call, one message. An observation already
answered (the bridge re-published it) gets the same action again, without acting again.

Input is checked at the edge, before it can start an episode or reach a policy
(docs/topics.md): stamps must be the current step, the next one, or the next episode's
first (:class:`StepGate`); vectors and images must have the names, sizes and encoding the
policies take. A second publisher on an input topic is reported, and a second arbiter on
the graph is refused (:class:`GraphWatch`).
"""
from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.subscription import RCLError
from sensor_msgs.msg import Image, JointState, Joy
from std_msgs.msg import Float64, Int32MultiArray, String

from jsrl_learning.checkpoint import CheckpointError, load_checkpoint, space_from_state
from jsrl_learning.config import ConfigError, require
from jsrl_learning.episode import EXPLORER, GUIDE
from jsrl_learning.guides import BCGuide, HumanGuide, LatestCommand
from jsrl_learning.guides.policy_checkpoint import learner_from_policy_state
from jsrl_learning.interleaved import EpisodePlan, EpisodePlanner
from jsrl_learning.learners import Learner
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, named_vector, named_vector_values
from jsrl_ros.contract.names import EPISODE_INFO_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.explorer_slot import ExplorerSlot
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.step_gate import STALE, Rejected, StepGate
from jsrl_ros.teleop_mapping import ACTION_NAMES as TELEOP_ACTION_NAMES
from jsrl_ros.teleop_mapping import JoyMap, TeleopCommands, TwistScales

GUIDES = ("scripted", "bc", "human")
MAX_PENDING = 8  # observations waiting for their other parts (image, guide action): more are old leftovers
STATE, IMAGE, GUIDE_ACTION = "state", "image", "guide_action"


class Explorer:
    """A loaded explorer and the observation it expects (``state_dim``: its vector's length)."""

    def __init__(self, learner: Learner, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.learner = learner
        image_mode = isinstance(observation_space, gym.spaces.Dict)
        vector = observation_space["proprio"] if image_mode else observation_space
        self.state_dim = int(np.prod(vector.shape))
        self.image_shape = tuple(observation_space["image"].shape) if image_mode else None
        self.action_dim = int(np.prod(action_space.shape))


def load_explorer(path: str) -> Explorer:
    """The learner of a checkpoint's ``policy`` entry (trainer and learner node write one)."""
    state = load_checkpoint(path)
    if "policy" not in state:
        raise CheckpointError(f"{path}: holds no 'policy' entry (not a learner checkpoint)")
    policy = state["policy"]
    return Explorer(learner_from_policy_state(policy, path), space_from_state(policy["observation_space"]),
                    space_from_state(policy["action_space"]))


class PolicyArbiter(CheckedNode):
    RENAMED_PARAMETERS = {"eval_every": "eval_every_episodes"}

    def __init__(self, load: Callable[[str], Explorer] = load_explorer, **node_kwargs: Any) -> None:
        super().__init__("policy_arbiter", **node_kwargs)
        self.health = Health()
        self.watch = GraphWatch(self, self.health)
        where = f"{self.get_name()} parameters"
        dt = self.declare_parameter("dt", 0.1).value
        self.action_names = list(self.declare_parameter("action_names", Parameter.Type.STRING_ARRAY).value or [])
        obs_mode = self.declare_parameter("obs_mode", "state").value
        self.guide_kind = self.declare_parameter("guide", "scripted").value
        guide_path = self.declare_parameter("guide_path", "").value
        eval_every_episodes = self.declare_parameter("eval_every_episodes", 10).value
        eval_episodes = self.declare_parameter("eval_episodes", 5).value
        seed = self.declare_parameter("seed", 0).value
        require(obs_mode in ("state", "image"), where, f"obs_mode must be state or image, got {obs_mode!r}")
        self.image_mode = obs_mode == "image"
        require(self.guide_kind in GUIDES, where, f"guide must be one of {GUIDES}, got {self.guide_kind!r}")
        require(len(self.action_names) > 0 and all(self.action_names), where,
                "action_names must name the action's dimensions (the same list as the sim bridge's)")
        try:
            self.clock = StepClock(dt)
            self.gate = StepGate(self.clock)
            self.planner = EpisodePlanner(eval_every_episodes, eval_episodes, seed)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

        self.bc: BCGuide | None = None
        self.human: HumanGuide | None = None
        if self.guide_kind == "bc":
            require(bool(guide_path), where, "guide_path must name a saved BC guide for guide 'bc'")
            try:
                self.bc = BCGuide.load(guide_path)
            except CheckpointError as exc:
                raise ConfigError(f"{where}: guide_path: {exc}") from exc
        teleop = {  # declared whatever the guide, so one YAML serves every guide
            "timeout": self.declare_parameter("human_timeout", 0.5).value,
            "linear": self.declare_parameter("twist_linear_scale", TwistScales.linear).value,
            "angular": self.declare_parameter("twist_angular_scale", TwistScales.angular).value,
            "axes": list(self.declare_parameter("joy_axes", list(JoyMap.axes)).value),
            "joy_scales": [float(v) for v in self.declare_parameter("joy_scales", list(map(float, JoyMap.scales))).value],
            "gripper_button": self.declare_parameter("joy_gripper_button", JoyMap.gripper_button).value,
            "deadman": self.declare_parameter("joy_deadman_button", 4).value,
        }
        if self.guide_kind == "human":
            self._setup_human(where, **teleop)

        self.dropped = self.stale = self.waiting = self.episodes = self.publish_failures = 0
        self.image_format: tuple[int, ...] | None = None  # (H, W, C) of the first valid image: all must match
        self.choices: list[int] | None = None
        self.episode = -1
        self.plan: EpisodePlan | None = None
        self.owner: str | None = None
        self.parts: dict[int, dict[str, Any]] = {}  # stamp key -> the pieces of that step's observation
        self.answered: tuple[int, JointState] | None = None  # the last step answered, for re-sends
        self.load = load
        self.slot: ExplorerSlot[Explorer] = ExplorerSlot(self._load_checked, self._report_load)

        self.action_pub = self.create_publisher(JointState, topics.ACTION, RELIABLE)
        self.info_pub = self.create_publisher(JointState, topics.EPISODE_INFO, RELIABLE)
        self.owner_pub = self.create_publisher(String, topics.CONTROL_OWNER, LATCHED)
        self._subscribe(JointState, topics.STATE, self.on_state, RELIABLE)
        if self.image_mode:
            self._subscribe(Image, topics.OBS_IMAGE, self.on_image, SENSOR)
        if self.guide_kind == "scripted":
            self._subscribe(JointState, topics.GUIDE_ACTION, self.on_guide_action, RELIABLE)
        self._subscribe(Int32MultiArray, topics.GUIDE_STEP_CHOICES, self.on_choices, LATCHED)
        self._subscribe(String, topics.CHECKPOINT, self.on_checkpoint, LATCHED)
        self.watch.own([topics.ACTION, topics.EPISODE_INFO])
        publish_counters(self, lambda: {
            "episode": self.episode, "dropped": self.dropped, "stale": self.stale, "waiting": self.waiting,
            "foreign": self.watch.detections, "publish_failures": self.publish_failures,
            "explorer_loads": self.slot.loads, "explorer_load_failures": self.slot.failures,
            "guide_in_control": float(self.owner == GUIDE)}, health=self.health)
        self.get_logger().info(f"guide={self.guide_kind}, {'image' if self.image_mode else 'state'} observations, "
                               f"evaluations: {eval_episodes} every {eval_every_episodes} episodes")

    def _setup_human(self, where: str, timeout: float, linear: float, angular: float, axes: list[int],
                     joy_scales: list[float], gripper_button: int, deadman: int) -> None:
        require(tuple(self.action_names) == TELEOP_ACTION_NAMES, where,
                f"the human guide drives the grasping action {list(TELEOP_ACTION_NAMES)}; "
                f"action_names is {self.action_names}")
        try:
            self.human = HumanGuide(LatestCommand(), timeout, np.zeros(len(self.action_names), np.float32))
            teleop = TeleopCommands(self.human.source, TwistScales(linear, angular),
                                    JoyMap(tuple(axes), tuple(joy_scales), gripper_button), deadman)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        for msg_type, topic, handle, qos in ((Twist, topics.ARM_TWIST, teleop.twist, RELIABLE),
                                             (TwistStamped, topics.TELEOP_TWIST, teleop.twist, RELIABLE),
                                             (Float64, topics.TELEOP_GRIPPER, teleop.gripper, RELIABLE),
                                             (Joy, "joy", teleop.joy, SENSOR)):
            self._subscribe(msg_type, topic, self._teleop_input(topic, handle), qos)

    def _teleop_input(self, topic: str, handle: Callable[[Any], None]) -> Callable[[Any], None]:
        def receive(msg: Any) -> None:
            try:
                handle(msg)
            except MalformedMessage as exc:
                self._drop(topic, exc)
        return receive

    def _subscribe(self, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: Any) -> None:
        """An input that one publishing node feeds (the graph watch reports any other)."""
        self.watch.expect(topic)
        self.create_subscription(msg_type, topic, callback, qos)

    # --- observations -> actions (the hot path) --------------------------------------------

    def on_state(self, msg: JointState) -> None:
        try:
            ident = self.gate.check(msg.header.stamp)
            values = named_vector_values(msg, state_names(len(msg.name)))
            explorer = self.slot.current
            if explorer is not None and values.size != explorer.state_dim:
                raise MalformedMessage(f"{values.size} values, the explorer takes {explorer.state_dim}")
        except (Rejected, MalformedMessage) as exc:
            return self._reject(topics.STATE, exc)
        if ident[0] < self.episode:  # the gate followed the bridge back (after a forged next episode)
            self.answered, self.parts = None, {}
        key = stamp_key(msg.header.stamp)
        if self.answered is not None and key <= self.answered[0]:
            if key == self.answered[0]:
                self._publish(self.action_pub, self.answered[1])  # the bridge re-published: same answer
            else:
                self.stale += 1
            return
        self._add(key, ident, STATE, values.astype(np.float32), msg)

    def on_image(self, msg: Image) -> None:
        try:
            ident = self.gate.check(msg.header.stamp)
            if msg.encoding != "rgb8":
                raise MalformedMessage(f"encoding {msg.encoding!r}; the observation node publishes rgb8")
            image = image_to_numpy(msg)
            self._check_image(image.shape)
        except (Rejected, MalformedMessage) as exc:
            return self._reject(topics.OBS_IMAGE, exc)
        self._add(stamp_key(msg.header.stamp), ident, IMAGE, image, msg)

    def _check_image(self, shape: tuple[int, ...]) -> None:
        """Every image has the first one's size, and the size the explorer was trained on."""
        explorer = self.slot.current
        expected = explorer.image_shape if explorer is not None and explorer.image_shape else self.image_format
        if expected is not None and shape != expected:
            raise MalformedMessage(f"a {shape} image; the policy takes {expected}")
        self.image_format = self.image_format or shape

    def on_guide_action(self, msg: JointState) -> None:
        try:
            ident = self.gate.check(msg.header.stamp)
            values = named_vector_values(msg, self.action_names)
        except (Rejected, MalformedMessage) as exc:
            return self._reject(topics.GUIDE_ACTION, exc)
        self._add(stamp_key(msg.header.stamp), ident, GUIDE_ACTION, values.astype(np.float32), msg)

    def _add(self, key: int, ident: tuple[int, int], part: str, value: Any, msg: Any) -> None:
        if self.answered is not None and key <= self.answered[0]:
            return
        if len(self.parts) >= MAX_PENDING and key not in self.parts:
            self.parts.pop(min(self.parts))  # (parts of steps that were never completed: bounded)
        parts = self.parts.setdefault(key, {})
        parts[part] = value
        parts["stamp"] = msg.header.stamp
        self._try_act(key, ident, parts)

    def _try_act(self, key: int, ident: tuple[int, int], parts: dict[str, Any]) -> None:
        episode, t = ident
        if episode != self.episode and not self._begin_episode(episode, parts["stamp"]):
            return
        who = self.plan.controller(t)
        if STATE not in parts or (self.image_mode and IMAGE not in parts) \
                or (who == GUIDE and self.guide_kind == "scripted" and GUIDE_ACTION not in parts):
            return
        obs = {"image": parts[IMAGE], "proprio": parts[STATE]} if self.image_mode else parts[STATE]
        if who == GUIDE:
            action = self._guide_act(obs, parts)
        else:
            explorer = self.slot.current
            if explorer is None:
                self.waiting += 1
                self.get_logger().warning("the explorer's turn, but no checkpoint is loaded yet: waiting for "
                                          f"{topics.CHECKPOINT}", throttle_duration_sec=5.0)
                return
            action = explorer.learner.act(obs, explore=not self.plan.evaluation)
        self._set_owner(who, episode, t)
        msg = named_vector(self.action_names, np.ravel(action), parts["stamp"])
        self._publish(self.action_pub, msg)
        self.answered = (key, msg)
        self.gate.enter(episode, t)
        for old in [k for k in self.parts if k <= key]:
            del self.parts[old]

    def _guide_act(self, obs: Any, parts: dict[str, Any]) -> np.ndarray:
        if self.guide_kind == "scripted":
            return parts[GUIDE_ACTION]
        if self.guide_kind == "bc":
            return self.bc.act(obs)
        return self.human.act(obs)

    def _begin_episode(self, episode: int, stamp: Any) -> bool:
        if self.choices is None:
            self.waiting += 1
            self.get_logger().warning("waiting for jsrl/guide_step_choices (is the curriculum manager running?)",
                                      throttle_duration_sec=5.0)
            return False
        self.episode, self.plan = episode, self.planner.plan(self.choices)
        self.gate.enter(episode, -1)  # (its step 0 is next)
        self.episodes += 1
        if self.human is not None:
            self.human.reset()
        self._publish(self.info_pub, named_vector(EPISODE_INFO_NAMES, [episode, self.plan.guide_step, self.plan.evaluation],
                                           self.clock.stamp(episode, 0)))
        kind = "evaluation" if self.plan.evaluation else "training"
        self.get_logger().info(f"episode {episode} ({kind}): guide for the first {self.plan.guide_step} steps")
        return True

    def _set_owner(self, who: str, episode: int, t: int) -> None:
        if who == self.owner:
            return
        self.owner = who
        self.owner_pub.publish(String(data=who))
        if who == EXPLORER:
            note = "; human guide: LET GO" if self.human is not None else ""
            self.get_logger().info(f"control passes to the explorer at episode {episode} step {t}{note}")
        else:
            note = "; human guide: YOU HAVE CONTROL" if self.human is not None else ""
            self.get_logger().info(f"control passes to the guide at episode {episode} step {t}{note}")

    # --- curriculum, checkpoints ---------------------------------------------------------

    def on_choices(self, msg: Int32MultiArray) -> None:
        choices = list(msg.data)
        if not choices or min(choices) < 0:
            return self._drop(topics.GUIDE_STEP_CHOICES,
                              MalformedMessage(f"choices must be a non-empty list of ints >= 0, got {choices}"))
        if choices != self.choices:
            self.get_logger().info(f"guide-step choices: {choices}")
        self.choices = choices

    def on_checkpoint(self, msg: String) -> None:
        if not msg.data:
            return self._drop(topics.CHECKPOINT, MalformedMessage("an empty path"))
        self.slot.request(msg.data)

    def _load_checked(self, path: str) -> Explorer:
        """Runs on the loader thread."""
        explorer = self.load(path)
        if explorer.action_dim != len(self.action_names):
            raise MalformedMessage(f"its actions have {explorer.action_dim} dimensions, not {len(self.action_names)}")
        return explorer

    def _report_load(self, path: str, error: Exception | None) -> None:
        """Runs on the loader thread."""
        if error is not None:
            self.dropped += 1
            self.get_logger().error(f"jsrl/checkpoint: could not use {path}: {error}; keeping the previous explorer")
        else:
            self.get_logger().info(f"explorer loaded from {path}")

    def _publish(self, publisher: Publisher, msg: Any) -> None:
        """Publish, or count and log why not (the middleware can refuse under a flood): never raise."""
        try:
            publisher.publish(msg)
        except RCLError as exc:
            self.publish_failures += 1
            self.get_logger().error(f"{publisher.topic_name}: publish failed: {exc} "
                                    f"({self.publish_failures} so far)", throttle_duration_sec=2.0)

    def _reject(self, topic: str, exc: Exception) -> None:
        """A message refused at the edge: an old step counts as stale, anything else as dropped."""
        if isinstance(exc, Rejected) and exc.kind == STALE:
            self.stale += 1
            return
        self._drop(topic, exc)

    def _drop(self, topic: str, exc: Exception) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped a message: {exc} ({self.dropped} dropped so far)",
                                  throttle_duration_sec=2.0)

    def destroy_node(self) -> None:
        self.slot.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(1)  # processes, not threads, share the cores (docs/architecture.md)
    return spin_node(PolicyArbiter, argv)


if __name__ == "__main__":
    raise SystemExit(main())
