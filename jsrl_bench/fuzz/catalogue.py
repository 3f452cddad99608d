"""Every input topic of every node of the fuzzed graphs: type, QoS, subscribers, strategy, known probes.

The lists mirror the nodes' ``create_subscription`` calls (docs/topics.md's "in" rows) for
the graphs the harness runs: ``grasping_sim`` (state mode, scripted guide, headless) and
``real_arm`` (fake hardware, human guide, image mode). The embedded bringup is a node too
(it reads ``jsrl/episode_summary`` and ``jsrl/guide_step``). ``diagnostics`` is left alone: it
is how the harness sees the graph.

``regressions`` are the probes that found a failure — issue 11's and this harness's own —
tried before the generated ones (hypothesis' explicit examples), so every run re-checks them. ``sustain_s``: where a
failure needs a source that keeps talking (a leftover joint_state_publisher, a camera driver
switched to depth frames: issue 11's 2 s burst), the shots go on at SUSTAIN_HZ that long.

Topics are published with a RELIABLE (or, where the contract latches, a transient-local)
writer: it matches best-effort readers as well, so nothing is lost to a QoS mismatch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped
from hypothesis import strategies as st
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, JointState, Joy
from std_msgs.msg import Bool, Float64, Float64MultiArray, Int32, Int32MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from jsrl_bench.fuzz import strategies as S
from jsrl_bench.fuzz.stamps import Stamp, current
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES, LABELS, STEP_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import EPISODE_SPAN_S

SUSTAIN_HZ = 100.0
ESTOP = "estop"  # operator action after the attack: release and clear the e-stop (a latched e-stop is by design)


@dataclass
class Context:
    """What the strategies need to know about the running graph (names, sizes, files)."""

    action_names: list[str]
    state_names: list[str]
    obs_size: tuple[int, int] = (64, 64)  # jsrl/obs/image (w, h)
    camera_size: tuple[int, int] = (64, 64)  # camera/image_raw
    driver_camera_size: tuple[int, int] = (80, 60)  # the fake arm's camera
    joints: list[str] = field(default_factory=list)  # joint_states names (axes, then fingers)
    joints_at: list[float] = field(default_factory=list)  # where the arm is: a liar's readings are near it
    paths: list[str] = field(default_factory=list)  # the harness's hostile files (jsrl.fuzz.files)
    node_cwd: Path = Path(".")  # where the nodes resolve relative paths
    deadman_button: int = 4


@dataclass(frozen=True)
class InputTopic:
    topic: str
    msg_type: Any
    qos: QoSProfile
    nodes: tuple[str, ...]  # the nodes subscribed to it
    shots: Callable[[Context], st.SearchStrategy[S.Shot]]
    regressions: Callable[[Context], list[S.Shot]] = lambda ctx: []
    operator: str = ""  # ESTOP: what an operator does after the attack before the loop may go on
    sustain_s: float = 0.0  # then keep publishing the shots this long (a second publisher that keeps talking)


def _no_such_path(ctx: Context) -> Callable[[str], bool]:
    """Drawn text for a path topic must not name an existing file: the harness points only at its own."""
    def safe(text: str) -> bool:
        try:
            return not (os.path.lexists(text) or os.path.lexists(ctx.node_cwd / text))
        except (OSError, ValueError):
            return True
    return safe


def _paths(ctx: Context) -> st.SearchStrategy[S.Shot]:
    return S.strings("", *ctx.paths, safe=_no_such_path(ctx))


def _known(names: Any, stamp: Stamp, values: list[float] | None = None) -> S.Shot:
    """A well-formed named vector with ``stamp``: a known probe."""
    names = list(names)
    return S.Shot(named_vector(names, values if values is not None else [0.0] * len(names), Time()), stamp, "known")


NEGATIVE = Stamp("absolute", sec=-EPISODE_SPAN_S)  # episode -1
EPISODE_AHEAD_50 = Stamp("relative", episodes=50, from_start=True)
NEXT_EPISODE = Stamp("relative", episodes=1, from_start=True)
BURST = 20  # a second publisher's forged step (next episode's first, 1e308 action), this many times


def _image(width: int, height: int, encoding: str, stamp: Stamp) -> S.Shot:
    row = width * S.ENCODING_BYTES[encoding]
    msg = Image(width=width, height=height, encoding=encoding, step=row, data=bytes(row * height))
    return S.Shot(msg, stamp, "known")


def _common(bridge: str) -> list[InputTopic]:
    """The learning loop's inputs, the same in both graphs (``bridge``: the node that steps the world)."""
    return [
        InputTopic(topics.STATE, JointState, RELIABLE, ("policy_arbiter", "recorder"),
                   lambda c: S.named_vectors(c.state_names),
                   lambda c: [_known(c.state_names, EPISODE_AHEAD_50), _known(c.state_names, NEGATIVE),
                              *[_known(c.state_names, NEXT_EPISODE)] * BURST]),
        InputTopic(topics.ACTION, JointState, RELIABLE, (bridge, "recorder"),
                   lambda c: S.named_vectors(c.action_names),
                   lambda c: [_known(c.action_names, NEGATIVE),  # this harness: finite in float64, inf in float32
                              *[_known(c.action_names, current(), [1e308] + [0.0] * (len(c.action_names) - 1))] * BURST]),
        InputTopic(topics.GUIDE_STEP_CHOICES, Int32MultiArray, LATCHED, ("policy_arbiter",),
                   lambda c: S.int32_arrays()),
        InputTopic(topics.CHECKPOINT, String, LATCHED, ("policy_arbiter",), _paths),
        InputTopic(topics.EPISODE_INFO, JointState, RELIABLE, ("recorder",),
                   lambda c: S.named_vectors(EPISODE_INFO_NAMES, 0.0, 3.0)),
        InputTopic(topics.STEP, JointState, RELIABLE, ("recorder",), lambda c: S.named_vectors(STEP_NAMES, 0.0, 1.0)),
        InputTopic(topics.TELEOP_LABEL, String, RELIABLE, ("recorder",), lambda c: S.strings(*LABELS)),
        InputTopic(topics.EPISODE_BAG, String, RELIABLE, ("learner",), _paths),
        InputTopic(topics.EVALUATION, Float64, RELIABLE, ("curriculum_manager",), lambda c: S.float64s(),
                   lambda c: [S.Shot(Float64(data=1e308), None, "known")] * 3),
        InputTopic(topics.EPISODE_SUMMARY, JointState, RELIABLE, ("curriculum_manager", "jsrl_bringup"),
                   lambda c: S.named_vectors(EPISODE_SUMMARY_NAMES, 0.0, 15.0)),
        InputTopic(topics.GUIDE_STEP, Int32, LATCHED, ("jsrl_bringup",), lambda c: S.int32_values()),
    ]


def grasping_sim_topics() -> list[InputTopic]:
    """grasping_sim, state mode, scripted guide, headless: no camera, no teleop subscriptions."""
    inputs = _common("sim_bridge")
    inputs.insert(2, InputTopic(topics.GUIDE_ACTION, JointState, RELIABLE, ("policy_arbiter",),
                                lambda c: S.named_vectors(c.action_names),
                                lambda c: [_known(c.action_names, NEXT_EPISODE)] * BURST))
    return inputs


def real_arm_topics() -> list[InputTopic]:
    """real_arm with hardware:=fake, the human (teleop) guide, image observations."""
    def arm_lie(c: Context) -> list[S.Shot]:  # issue 11: a second publisher reports the arm at x = y = 0, z = 0.1
        values = list(c.joints_at)
        values[:3] = [0.0, 0.0, 0.1]
        return [_known(c.joints, current(), values)] * 20

    return [
        *_common("real_arm_bridge"),
        InputTopic(topics.OBS_IMAGE, Image, RELIABLE, ("policy_arbiter", "recorder"),
                   lambda c: S.images(*c.obs_size),
                   lambda c: [_image(32, 32, "rgb8", current()), _image(32, 32, "rgb8", current(1)),
                              *[_image(*c.obs_size, "rgb8", NEXT_EPISODE)] * BURST]),
        InputTopic(topics.CAMERA_IMAGE, Image, RELIABLE, ("observation",), lambda c: S.images(*c.camera_size),
                   lambda c: [_image(*c.camera_size, "rgb8", NEXT_EPISODE)] * BURST),
        InputTopic(topics.ARM_CAMERA_IMAGE, Image, RELIABLE, ("real_arm_bridge",),
                   lambda c: S.images(*c.driver_camera_size),
                   lambda c: [_image(*c.driver_camera_size, "16UC1", current())] * 20, sustain_s=2.0),
        InputTopic(topics.JOINT_STATES, JointState, RELIABLE, ("real_arm_bridge",),
                   lambda c: S.named_vectors(c.joints, -0.5, 0.5, around=c.joints_at), arm_lie, sustain_s=3.0),
        InputTopic(topics.SAFETY_ESTOP, Bool, RELIABLE, ("real_arm_bridge",), lambda c: S.bools(), operator=ESTOP),
        InputTopic(topics.SAFETY_DEADMAN, Bool, RELIABLE, ("real_arm_bridge",), lambda c: S.bools()),
        InputTopic(topics.CONTROL_OWNER, String, LATCHED, ("real_arm_bridge",), lambda c: S.strings("guide", "explorer")),
        InputTopic(topics.ARM_TWIST, Twist, RELIABLE, ("policy_arbiter",), lambda c: S.twists()),
        InputTopic(topics.TELEOP_TWIST, TwistStamped, RELIABLE, ("policy_arbiter",),
                   lambda c: S.twists(stamped=True)),
        InputTopic(topics.TELEOP_GRIPPER, Float64, RELIABLE, ("policy_arbiter",), lambda c: S.float64s()),
        InputTopic("joy", Joy, RELIABLE, ("policy_arbiter",), lambda c: S.joys(c.deadman_button)),
        # the fake arm stands in for the drivers: it gets only what a driver must refuse (a valid
        # command on a driver's own topic moves any arm; no safety layer sits behind the driver)
        InputTopic("servo_node/delta_twist_cmds", TwistStamped, RELIABLE, ("fake_arm",),
                   lambda c: S.twists(stamped=True, rejectable=True)),
        InputTopic("joint_trajectory_controller/joint_trajectory", JointTrajectory, RELIABLE, ("fake_arm",),
                   lambda c: S.trajectories(c.joints[:4], rejectable=True)),
        InputTopic("gripper_controller/commands", Float64MultiArray, RELIABLE, ("fake_arm",),
                   lambda c: S.float64_arrays(2, rejectable=True)),
    ]


CATALOGUES: dict[str, Callable[[], list[InputTopic]]] = {
    "grasping_sim": grasping_sim_topics,
    "real_arm": real_arm_topics,
    "real_arm_joint": real_arm_topics,
}
