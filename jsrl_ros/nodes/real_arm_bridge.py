"""Real-arm bridge: the sim bridge's topic contract on a robot arm, behind one safety layer.

A lifecycle (managed) node: only while **active** does it command the arm; deactivating it
stops the arm first. The arbiter, learner, curriculum manager, recorder and observation node
run unchanged: observations of step (e, t) go out stamped by the step clock (``jsrl/state``:
the sim's image-mode proprio vector from ``joint_states`` / the end-effector pose; the latest
frame of any sensor_msgs/Image driver re-stamped on ``camera/image_raw``), an action stamped
(e, t) moves the arm for one control period ``dt``, and ``jsrl/step`` reports its outcome.

Commands go out as Cartesian velocity (``command_mode: twist``, geometry_msgs/TwistStamped as
MoveIt Servo's ``delta_twist_cmds``, streamed at ``command_rate``) or joint targets
(``joint_trajectory``, a one-point trajectory_msgs/JointTrajectory per step, as ros2_control's
joint_trajectory_controller); the gripper on ``gripper_topic`` (std_msgs/Float64MultiArray).
Every one of them passes :class:`jsrl_ros.real_arm.safety.SafetyFilter` (limits: ``safety.*`` in
``config/ros/real_arm.yaml``, all required, validated before the node starts).

One episode = one grasp attempt, as in the sim: ``gripper > 0`` closes the fingers, lifts,
and the gripper-width-after-lift detector decides success. The episode's end (last outcome and
final observation) is published when the next episode begins — after the arm went home, opened
the gripper and the operator confirmed the scene is reset (``jsrl/reset``: the teleop's ``r``
key) — so a human label (``teleop/label``) given meanwhile lands in the episode's metadata.

This node only wires ROS: parameters (``jsrl_ros/real_arm/config.py``), topics, services, the
lifecycle and the control timer. The episode's phases are ``jsrl_ros/real_arm/grasp_cycle.py`` (its
outcomes ``grasp_outcomes.py``), the moves and commands ``motion.py`` / ``commands.py``,
the drivers' latest measurements ``sensors.py``, the checks on them ``measured_state.py`` (all in ``real_arm/``).

Inputs are checked at the edge. ``joint_states`` may have one publisher, the configured
``joint_state_source``: while any other node publishes there, the arm holds
(:class:`GraphWatch`). The actions, pose, camera and deadman may have one publisher each (the
first seen; others are reported); the e-stop anyone may send. Camera frames the observation
node cannot read, or of another size than the first, are dropped and never sent as an
observation. A second bridge on the same topics is refused.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, named_vector, restamped
from jsrl_ros.contract.names import STEP_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import stamp_key
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.real_arm.commands import command_message
from jsrl_ros.real_arm.config import RealArmConfig
from jsrl_ros.real_arm.grasp_cycle import GraspCycle, Observation
from jsrl_ros.real_arm.measured_state import FOREIGN_SOURCE, IMPLAUSIBLE, STALE_READINGS, TRACKING
from jsrl_ros.real_arm.motion import ArmMotion, Command
from jsrl_ros.real_arm.safety import ESTOP
from jsrl_ros.real_arm.sensors import ArmSensors
from jsrl_ros.real_arm.task import PROPRIO_DIM
from jsrl_ros.runtime.checked_node import CheckedLifecycleNode
from jsrl_ros.runtime.diagnostics import WARN, Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node


class RealArmBridge(CheckedLifecycleNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("real_arm_bridge", **node_kwargs)
        self.cfg = cfg = RealArmConfig(self)
        self.safety = cfg.safety
        twist = cfg.mode == "twist"

        self.state_pub = self.create_lifecycle_publisher(JointState, topics.STATE, RELIABLE)
        self.step_pub = self.create_lifecycle_publisher(JointState, topics.STEP, RELIABLE)
        self.image_pub = self.create_lifecycle_publisher(Image, topics.CAMERA_IMAGE, SENSOR)
        self.gripper_pub = self.create_lifecycle_publisher(Float64MultiArray, cfg.gripper_topic, RELIABLE)
        self.command_pub = self.create_lifecycle_publisher(TwistStamped, cfg.twist_topic, RELIABLE) if twist else \
            self.create_lifecycle_publisher(JointTrajectory, cfg.trajectory_topic, RELIABLE)
        self.status_pub = self.create_publisher(String, topics.SAFETY_STATUS, LATCHED)
        self.health = Health()
        self.dropped = 0
        self.watch = GraphWatch(self, self.health)
        self._subscribe(JointState, topics.ACTION, self.on_action, RELIABLE)
        self._subscribe(JointState, topics.JOINT_STATES, self.on_joint_state, SENSOR, owner=cfg.joint_state_source)
        if cfg.pose_topic:
            self._subscribe(PoseStamped, cfg.pose_topic, self.on_pose, SENSOR)
        if cfg.camera_topic:
            self._subscribe(Image, cfg.camera_topic, self.on_camera, SENSOR)
        self.create_subscription(Bool, topics.SAFETY_ESTOP, self.on_estop, RELIABLE)
        self._subscribe(Bool, topics.SAFETY_DEADMAN, self.on_deadman, SENSOR)
        self.create_subscription(String, topics.CONTROL_OWNER, self.on_owner, LATCHED)
        self.create_subscription(String, topics.TELEOP_LABEL, self.on_label, RELIABLE)
        self.create_service(Trigger, topics.RESET, self.on_reset)
        self.create_service(Trigger, topics.SAFETY_CLEAR_ESTOP, self.on_clear_estop)

        self.sensors = ArmSensors(cfg.axis_joints, cfg.finger_joints, cfg.pose_topic, cfg.camera_topic, twist,
                                  self.safety.measured)
        self.frame_format: tuple[str, tuple[int, ...]] | None = None  # encoding and shape of the first frame
        motion = ArmMotion(twist, self.safety, cfg.dt, cfg.command_hold, 1.0 / cfg.command_rate)
        self.cycle = GraspCycle(cfg, self.sensors, motion, self, self.get_logger())
        self.active = False
        self.status = ""
        self.create_timer(1.0 / cfg.command_rate, self.on_tick)
        self.watch.own([topics.STATE, topics.STEP, self.command_pub.topic_name, self.gripper_pub.topic_name])
        publish_counters(self, self.counters, health=self.health)
        self._set_status("inactive")
        self.get_logger().info(f"{cfg.mode} commands, axes {cfg.axis_names}, dt={cfg.dt}s; "
                               f"{'autostart' if cfg.autostart else 'waiting to be configured and activated'}")
        if cfg.autostart:
            self.trigger_configure()
            self.trigger_activate()

    # --- lifecycle -------------------------------------------------------------------------

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self.active = True
        self.cycle.start(self._now())
        self._set_status("ok")
        self.get_logger().info("active: commanding the arm")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.cycle.halt("the bridge was deactivated", self._now())
        self.active = False
        self._set_status("inactive")
        self.get_logger().info("deactivated: the arm is stopped and no longer commanded")
        return super().on_deactivate(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.active:
            self.cycle.stop_arm(self._now())
            self.active = False
        return super().on_shutdown(state)

    def destroy_node(self) -> None:
        if getattr(self, "active", False):  # (a node that failed its checks never commanded anything)
            self.cycle.stop_arm(self._now())
        super().destroy_node()

    # --- inputs ----------------------------------------------------------------------------

    def _subscribe(self, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: Any,
                   owner: str = "") -> None:
        """An input that one publishing node feeds: ``owner``, or the first one seen (the watch reports others)."""
        self.watch.expect(topic, owner)
        self.create_subscription(msg_type, topic, callback, qos)

    def on_action(self, msg: JointState) -> None:
        if not self.active:
            return
        if list(msg.name) != self.cfg.action_names:
            self.safety.reject(f"names {list(msg.name)} != {self.cfg.action_names}")
            return self._log_rejection()
        values = self.safety.accept(msg.position, len(self.cfg.action_names))
        if values is None:
            return self._log_rejection()
        self.cycle.on_action(stamp_key(msg.header.stamp), values, self._now())

    def _log_rejection(self) -> None:
        self.get_logger().warning(f"jsrl/action: rejected ({self.safety.last_rejection}; "
                                  f"{self.safety.counts['rejected']} so far)", throttle_duration_sec=2.0)

    def on_joint_state(self, msg: JointState) -> None:
        try:
            self.sensors.update_joints(msg.name, msg.position, self._now())
        except MalformedMessage as exc:
            self._drop(topics.JOINT_STATES, exc)

    def on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        try:
            self.sensors.update_pose((p.x, p.y, p.z), (q.x, q.y, q.z, q.w), self._now())
        except MalformedMessage as exc:
            self._drop(self.cfg.pose_topic, exc)

    def on_camera(self, msg: Image) -> None:
        """Only a frame the observation node can read, of the first frame's size, may become an observation."""
        try:
            frame_format = (msg.encoding, image_to_numpy(msg).shape)
            if self.frame_format not in (None, frame_format):
                raise MalformedMessage(f"a {frame_format} frame; the camera sent {self.frame_format} before")
        except MalformedMessage as exc:
            return self._drop(self.cfg.camera_topic, exc)
        self.frame_format = frame_format
        self.sensors.update_frame(msg, self._now())

    def on_estop(self, msg: Bool) -> None:
        was = self.safety.estop_latched
        self.safety.set_estop(bool(msg.data), self._now())
        if self.safety.estop_latched and not was:
            self.cycle.halt("E-STOP", self._now())
            self.get_logger().error("E-STOP: the arm is stopped until safety/clear_estop")
            self._set_status(ESTOP)

    def on_deadman(self, msg: Bool) -> None:
        self.safety.set_deadman(bool(msg.data), self._now())

    def on_owner(self, msg: String) -> None:
        self.cycle.owner = msg.data

    def on_label(self, msg: String) -> None:
        self.cycle.outcomes.set_label(msg.data)

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Operator: end the episode now, or (while waiting) confirm the scene is ready."""
        if not self.active:
            response.success, response.message = False, "the bridge is not active"
        else:
            response.success, response.message = self.cycle.operator_reset(self._now())
        self.get_logger().info(f"jsrl/reset: {response.message}")
        return response

    def on_clear_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success = self.safety.clear_estop()
        response.message = "e-stop cleared; jsrl/reset to home the arm" if response.success else \
            "refused: the e-stop input is still engaged"
        if response.success:
            self._set_status("ok" if self.active else "inactive")
            if self.active:
                self.cycle.estop_cleared(self._now())
        self.get_logger().warning(f"safety/clear_estop: {response.message}")
        return response

    def _drop(self, topic: str, exc: Exception) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped ({exc}; {self.dropped} so far)", throttle_duration_sec=2.0)

    # --- the control tick ------------------------------------------------------------------

    def on_tick(self) -> None:
        if not self.active:
            return
        now = self._now()
        self.safety.measured.source_fault = None if self.watch.trusted(topics.JOINT_STATES) else \
            "joint_states has a publisher other than joint_state_source"
        self._report_measurement(now)
        reason = self.cycle.stop_reason(now)
        self._set_status(reason or "ok")
        if reason != ESTOP:
            self.cycle.advance(now, reason)
        self.cycle.command(now)

    def _report_measurement(self, now: float) -> None:
        """The measured-state holds as alarms on ``diagnostics`` (WARN: the arm holds; nothing died)."""
        hold = self.safety.measured.hold_reason(now)
        for name in (FOREIGN_SOURCE, TRACKING, STALE_READINGS, IMPLAUSIBLE):
            if name != hold:
                self.health.clear(name)
            elif not self.health.active(name):
                detail = {TRACKING: self.safety.measured.tracking_fault,
                          FOREIGN_SOURCE: self.safety.measured.source_fault}.get(name) or "the arm holds"
                self.get_logger().error(f"measured state: {name}: {detail}")
                self.health.alarm(name, WARN, detail)

    def _now(self) -> float:
        """Seconds on the node's clock: safety decisions and the stamps of the commands they produce
        use the same time, so a command's stamp says when it was decided."""
        return self.get_clock().now().nanoseconds * 1e-9

    # --- outputs (the cycle's CycleOutputs) ------------------------------------------------

    def publish_gripper(self, command: Sequence[float]) -> None:
        self.gripper_pub.publish(Float64MultiArray(data=command))

    def publish_command(self, command: Command, now: float) -> None:
        self.command_pub.publish(command_message(command, now, self.cfg.command_frame, self.cfg.axis_joints))

    def publish_observation(self, observation: Observation) -> None:
        stamp = observation.stamp
        if observation.outcome is not None:
            self.step_pub.publish(named_vector(STEP_NAMES, observation.outcome, stamp))
        if observation.frame is not None:
            self.image_pub.publish(restamped(observation.frame, stamp))
        self.state_pub.publish(named_vector(state_names(PROPRIO_DIM), observation.proprio, stamp))

    def _set_status(self, status: str) -> None:
        if self.safety.estop_latched:
            status = ESTOP
        if status != self.status:
            self.status = status
            self.status_pub.publish(String(data=status))

    def counters(self) -> dict[str, float]:
        counts, cycle, outcomes = self.safety.counts, self.cycle, self.cycle.outcomes
        return {"episode": outcomes.episode, "step": outcomes.t, "steps": outcomes.steps, "active": float(self.active),
                "estop": float(self.safety.estop_latched), "rejected": counts["rejected"],
                "clipped": counts["clipped"], "clamped": counts["clamped"], "dropped": self.dropped,
                "stale": cycle.stale, "republished": cycle.republished, "unlabelled": outcomes.unlabelled,
                "foreign": self.watch.detections,
                "implausible": self.safety.measured.implausible, "tracking_faults": self.safety.measured.tracking_faults,
                **{f"{k}_stops": counts[f"{k}_stops"]
                   for k in ("estop", "deadman", "watchdog", FOREIGN_SOURCE, TRACKING, STALE_READINGS, IMPLAUSIBLE)}}


def main(argv: list[str] | None = None) -> int:
    return spin_node(RealArmBridge, argv)


if __name__ == "__main__":
    raise SystemExit(main())
