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
Every one of them passes :class:`jsrl_ros.safety.SafetyFilter` (limits: ``safety.*`` in
``config/real_arm.yaml``, all required, validated before the node starts).

One episode = one grasp attempt, as in the sim: ``gripper > 0`` closes the fingers, lifts,
and the gripper-width-after-lift detector decides success. The episode's end (last outcome and
final observation) is published when the next episode begins — after the arm went home, opened
the gripper and the operator confirmed the scene is reset (``jsrl/reset``: the teleop's ``r``
key) — so a human label (``teleop/label``) given meanwhile lands in the episode's metadata.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jsrl_ros.arm_task import PROPRIO_DIM, outcome, proprio, step_delta, yaw_of_quaternion
from jsrl_ros.contract import LABELS, STEP_NAMES
from jsrl_ros.conversions import MalformedMessage, named_vector
from jsrl_ros.diagnostics import publish_counters
from jsrl_ros.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.real_arm_config import RealArmConfig
from jsrl_ros.safety import ESTOP, WATCHDOG, TwistSegment
from jsrl_ros.spin import spin_node
from jsrl_ros.step_clock import stamp_key
from jsrl_ros.vectors import state_names

# Phases: WAIT for the operator (jsrl/reset), HOMING, OBSERVE (waiting for fresh sensor data),
# ACT (waiting for the policy's action), MOVE (one control period), CLOSE and LIFT (the grasp attempt).
WAIT, HOMING, OBSERVE, ACT, MOVE, CLOSE, LIFT = "wait", "homing", "observe", "act", "move", "close", "lift"
EPISODE = "episode"
IN_EPISODE = (OBSERVE, ACT, MOVE, CLOSE, LIFT)


class RealArmBridge(LifecycleNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("real_arm_bridge", **node_kwargs)
        self.cfg = cfg = RealArmConfig(self)
        self.safety = cfg.safety

        self.state_pub = self.create_lifecycle_publisher(JointState, "jsrl/state", RELIABLE)
        self.step_pub = self.create_lifecycle_publisher(JointState, "jsrl/step", RELIABLE)
        self.image_pub = self.create_lifecycle_publisher(Image, "camera/image_raw", SENSOR)
        self.gripper_pub = self.create_lifecycle_publisher(Float64MultiArray, self.cfg.gripper_topic, RELIABLE)
        if self.cfg.mode == "twist":
            self.twist_pub = self.create_lifecycle_publisher(TwistStamped, self.cfg.twist_topic, RELIABLE)
        else:
            self.trajectory_pub = self.create_lifecycle_publisher(JointTrajectory, self.cfg.trajectory_topic, RELIABLE)
        self.status_pub = self.create_publisher(String, "safety/status", LATCHED)
        self.create_subscription(JointState, "jsrl/action", self.on_action, RELIABLE)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, SENSOR)
        if self.cfg.pose_topic:
            self.create_subscription(PoseStamped, self.cfg.pose_topic, self.on_pose, SENSOR)
        if self.cfg.camera_topic:
            self.create_subscription(Image, self.cfg.camera_topic, self.on_camera, SENSOR)
        self.create_subscription(Bool, "safety/estop", self.on_estop, RELIABLE)
        self.create_subscription(Bool, "safety/deadman", self.on_deadman, SENSOR)
        self.create_subscription(String, "jsrl/control_owner", self.on_owner, LATCHED)
        self.create_subscription(String, "teleop/label", self.on_label, RELIABLE)
        self.create_service(Trigger, "jsrl/reset", self.on_reset)
        self.create_service(Trigger, "safety/clear_estop", self.on_clear_estop)

        self.active = False
        self.phase, self.after_wait = WAIT, HOMING
        self.episode, self.t = self.cfg.first_episode - 1, 0
        self.segment: tuple[np.ndarray, np.ndarray, float, float] | None = None  # start, target, t0, duration
        self.twist: TwistSegment | None = None  # the segment's velocity stream (twist mode)
        self.deadline = 0.0
        self.policy_since: float | None = None
        self.capture_after = 0.0
        self.pending: tuple[float, bool, bool, bool] | None = None  # outcome to publish before the next observation
        self.final = False  # the observation being captured ends the episode
        self.detected: bool | None = None  # the grasp detector's verdict on this episode's attempt
        self.held_end: list[tuple[Any, Any]] = []  # the ended episode's last messages, sent when the next begins
        self.current: list[tuple[Any, Any]] = []
        self.current_key = self.finished_key = -1
        self.last_publish = 0.0
        self.label, self.owner, self.status = "", "", ""
        self.joints: dict[str, float] = {}
        self.joints_at = self.pose_at = self.frame_at = -1.0
        self.pose: np.ndarray | None = None
        self.frame: Image | None = None
        self.dropped = self.stale = self.republished = self.steps = self.unlabelled = 0
        self.hold_sent = False
        self.create_timer(1.0 / self.cfg.command_rate, self.on_tick)
        publish_counters(self, self.counters)
        self._set_status("inactive")
        self.get_logger().info(f"{self.cfg.mode} commands, axes {self.cfg.axis_names}, dt={self.cfg.dt}s; "
                               f"{'autostart' if self.cfg.autostart else 'waiting to be configured and activated'}")
        if self.cfg.autostart:
            self.trigger_configure()
            self.trigger_activate()

    # --- lifecycle -------------------------------------------------------------------------

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self.active = True
        self._wait_then(HOMING)
        self._set_status("ok")
        self.get_logger().info("active: commanding the arm")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_arm()
        self.active = False
        self._abandon_episode("the bridge was deactivated")
        self.phase, self.after_wait = WAIT, HOMING
        self._set_status("inactive")
        self.get_logger().info("deactivated: the arm is stopped and no longer commanded")
        return super().on_deactivate(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.active:
            self._stop_arm()
            self.active = False
        return super().on_shutdown(state)

    def destroy_node(self) -> None:
        if getattr(self, "active", False):  # (a node that failed its checks never commanded anything)
            self._stop_arm()
        super().destroy_node()

    # --- inputs ----------------------------------------------------------------------------

    def on_action(self, msg: JointState) -> None:
        if not self.active:
            return
        if list(msg.name) != self.cfg.action_names:
            self.safety.reject(f"names {list(msg.name)} != {self.cfg.action_names}")
            return self._log_rejection()
        values = self.safety.accept(msg.position, len(self.cfg.action_names))
        if values is None:
            return self._log_rejection()
        key = stamp_key(msg.header.stamp)
        if key == self.finished_key:
            return  # an answer to an episode's final observation: moot
        if self.phase != ACT or key != self.current_key:
            self.stale += 1
            return
        now = self._now()
        self.safety.feed(now)
        reason = self._stop_reason(now)
        position = self._position()
        if values[-1] > 0 and reason is None:
            self.gripper_pub.publish(Float64MultiArray(data=self.cfg.gripper_close))
            self.segment = self.twist = None
            self.phase, self.deadline = CLOSE, now + self.cfg.close_time
        else:  # a motion; while a stop holds, the step passes without one (as the sim's idle human guide)
            self.segment = self.twist = None
            if reason is None and position is not None:
                start = self._start(now)
                self._move_to(self.safety.target(start, step_delta(values[:-1], self.cfg.action_scale)), now)
            self.phase, self.deadline = MOVE, now + self.cfg.dt
        self._command(self._stop_reason(now), now)

    def _log_rejection(self) -> None:
        self.get_logger().warning(f"jsrl/action: rejected ({self.safety.last_rejection}; "
                                  f"{self.safety.counts['rejected']} so far)", throttle_duration_sec=2.0)

    def on_joint_state(self, msg: JointState) -> None:
        needed = (self.cfg.axis_joints if self.cfg.mode == "joint_trajectory" or not self.cfg.pose_topic else []) \
            + self.cfg.finger_joints
        values = dict(zip(msg.name, msg.position))
        if len(msg.name) != len(msg.position) or any(n not in values or not np.isfinite(values[n]) for n in needed):
            return self._drop("joint_states", MalformedMessage(f"needs finite positions of {needed}, got names "
                                                              f"{list(msg.name)}"))
        self.joints, self.joints_at = values, self._now()

    def on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        pose = np.array([p.x, p.y, p.z, yaw_of_quaternion(q.x, q.y, q.z, q.w)])
        if not np.all(np.isfinite(pose)):
            return self._drop(self.cfg.pose_topic, MalformedMessage(f"non-finite pose {pose.tolist()}"))
        self.pose, self.pose_at = pose, self._now()

    def on_camera(self, msg: Image) -> None:
        self.frame, self.frame_at = msg, self._now()

    def on_estop(self, msg: Bool) -> None:
        was = self.safety.estop_latched
        self.safety.set_estop(bool(msg.data), self._now())
        if self.safety.estop_latched and not was:
            self._stop_arm()
            self._abandon_episode("E-STOP")
            self.phase, self.after_wait = WAIT, HOMING
            self.get_logger().error("E-STOP: the arm is stopped until safety/clear_estop")
            self._set_status(ESTOP)

    def on_deadman(self, msg: Bool) -> None:
        self.safety.set_deadman(bool(msg.data), self._now())

    def on_owner(self, msg: String) -> None:
        self.owner = msg.data

    def on_label(self, msg: String) -> None:
        if msg.data in LABELS:
            self.label = msg.data

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Operator: end the episode now, or (while waiting) confirm the scene is ready."""
        if not self.active or self.safety.estop_latched:
            response.success = False
            response.message = "the bridge is not active" if not self.active else \
                "the e-stop is latched: clear it first (safety/clear_estop)"
        elif self.phase == WAIT:
            response.success, response.message = True, f"confirmed: {self.after_wait}"
            self._continue_after_wait()
        elif self.phase in IN_EPISODE:
            self._abandon_episode("jsrl/reset")
            self.after_wait = HOMING
            self._continue_after_wait()  # the operator asked: home now
            response.success, response.message = True, f"episode {self.episode} ended at step {self.t}; homing"
        else:
            response.success, response.message = True, "already homing"
        self.get_logger().info(f"jsrl/reset: {response.message}")
        return response

    def on_clear_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success = self.safety.clear_estop()
        response.message = "e-stop cleared; jsrl/reset to home the arm" if response.success else \
            "refused: the e-stop input is still engaged"
        if response.success:
            self._set_status("ok" if self.active else "inactive")
            if self.active and self.phase == WAIT and self.cfg.auto_confirm:
                self._continue_after_wait()
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
        reason = self._stop_reason(now)
        self._set_status(reason or "ok")
        if reason != ESTOP:
            self._advance(now, reason)
        self._command(self._stop_reason(now), now)

    def _now(self) -> float:
        """Seconds on the node's clock: safety decisions and the stamps of the commands they produce
        use the same time, so a command's stamp says when it was decided."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _stop_reason(self, now: float) -> str | None:
        watched = self.policy_since if self.phase in (ACT, MOVE) else None
        return self.safety.stop_reason(now, self.owner == "guide", watched)

    def _advance(self, now: float, reason: str | None) -> None:
        """One step of the phase machine (docs/sim_to_real.md: what the bridge does)."""
        position, cfg = self._position(), self.cfg
        if self.phase == HOMING and position is not None:
            if np.all(np.abs(position - self.cfg.home) <= self.cfg.home_tolerance):
                self.segment = self.twist = None
                self._wait_then(EPISODE)
            elif self._settled(now) and reason is None:
                self._move_to(self.cfg.home.copy(), now)  # (again, if the last move fell short or was stopped)
        elif self.phase == OBSERVE:
            self._try_capture(now)
        elif self.phase == ACT and reason == WATCHDOG \
                and now - self.last_publish >= self.safety.limits.watchdog_timeout:
            self.republished += 1
            self._send(now)
        elif self.phase == MOVE and now >= self.deadline:
            self.t += 1
            self.steps += 1
            truncated = self.t >= self.cfg.max_steps
            self.pending = (0.0, False, truncated, False)
            self._capture(now, final=truncated)
        elif self.phase == CLOSE and now >= self.deadline and position is not None and reason is None:
            lift = position.copy()
            lift[self.cfg.lift_axis] = self.cfg.lift_to
            self._move_to(self.safety.inside(lift), now)
            self.phase, self.deadline = LIFT, now + self.cfg.lift_time
        elif self.phase == LIFT and position is not None and (
                now >= self.deadline or abs(position[cfg.lift_axis] - cfg.lift_to) <= cfg.home_tolerance):
            self.detected = self.cfg.detector(self._opening())
            self.t += 1
            self.steps += 1
            self.pending = None  # the reward waits for a possible label: composed when the episode's end is sent
            self._capture(now, final=True)

    def _command(self, reason: str | None, now: float) -> None:
        """Twist: every tick, the current segment's velocity (zero after it, and while stopped). Joint
        trajectory: a segment's target went out when it began; a stop sends one hold. Any stop ends the
        segment: motion resumes only with a new one."""
        position = self._position()
        if reason is not None:
            self.segment = self.twist = None
        if self.cfg.mode == "twist":
            velocity = np.zeros(4)
            if self.twist is not None and position is not None:
                velocity = self.twist.velocity(now, lambda v: self.safety.velocity(position, v))
            self._publish_twist(velocity, now)
        elif reason is not None and not self.hold_sent and position is not None:
            self._publish_trajectory(self.safety.inside(position), 1.0 / self.cfg.command_rate, now)
            self.hold_sent = True

    def _move_to(self, target: np.ndarray, now: float) -> None:
        """A straight segment from the measured position to ``target`` (inside the box), in one control
        period or as fast as ``max_velocity`` allows."""
        start = self._start(now)
        duration = self.safety.duration(start, target, self.cfg.dt)
        self.segment = (start, target, now, duration)
        if self.cfg.mode == "twist":
            self.twist = TwistSegment(start, target, now, duration, self.cfg.command_hold)
        else:
            self._publish_trajectory(target, duration, now)
            self.hold_sent = False

    def _start(self, now: float) -> np.ndarray:
        """Where a new move starts: while a twist segment still runs, its plan (the measurement lags
        a moving arm); once it has settled, the measured position (the arm may have fallen short)."""
        return self.twist.planned(now) if self.twist is not None and not self._settled(now) else self._position()

    def _settled(self, now: float) -> bool:
        """No segment, or one that ended a control period ago (the measurement has caught up)."""
        return self.segment is None or now > self.segment[2] + self.segment[3] + self.cfg.dt

    def _stop_arm(self) -> None:
        """Zero velocity (twist) or hold where it is (trajectory), published now."""
        self.segment, self.twist, now = None, None, self._now()
        if self.cfg.mode == "twist":
            self._publish_twist(np.zeros(4), now)
        else:
            position = self._position()
            if position is not None:
                self._publish_trajectory(self.safety.inside(position), 1.0 / self.cfg.command_rate, now)
                self.hold_sent = True

    def _publish_twist(self, velocity: np.ndarray, now: float) -> None:
        msg = TwistStamped()
        msg.header.stamp = _stamp(now)
        msg.header.frame_id = self.cfg.command_frame
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z, msg.twist.angular.z = (float(v) for v in velocity)
        self.twist_pub.publish(msg)

    def _publish_trajectory(self, positions: np.ndarray, duration: float, now: float) -> None:
        sec = int(duration)
        point = JointTrajectoryPoint(positions=[float(v) for v in positions],
                                     time_from_start=Duration(sec=sec, nanosec=int((duration - sec) * 1e9)))
        msg = JointTrajectory(joint_names=list(self.cfg.axis_joints), points=[point])
        msg.header.stamp = _stamp(now)
        self.trajectory_pub.publish(msg)

    # --- episodes --------------------------------------------------------------------------

    def _wait_then(self, next_phase: str) -> None:
        self.phase, self.after_wait = WAIT, next_phase
        if self.cfg.auto_confirm and not self.safety.estop_latched:
            self._continue_after_wait()
        else:
            what = "home the arm" if next_phase == HOMING else "start the next episode (is the scene reset?)"
            self.get_logger().info(f"waiting for the operator: jsrl/reset (teleop key r) to {what}")

    def _continue_after_wait(self) -> None:
        if self.after_wait == HOMING:
            self.phase, self.segment, self.twist = HOMING, None, None
            self.gripper_pub.publish(Float64MultiArray(data=self.cfg.gripper_open))
        else:
            self._begin_episode()

    def _begin_episode(self) -> None:
        if self.held_end:
            self._release_end()
        self.episode, self.t, self.label = self.episode + 1, 0, ""
        self.pending, self.detected = None, None
        self._capture(self._now(), final=False)

    def _release_end(self) -> None:
        """The ended episode's outcome (now with any human label) and final observation."""
        outcome_msg = self.held_end[0][1]
        if self.detected is not None:
            reward, success = outcome(self.detected, self.label, self.cfg.reward_source)
            if self.cfg.reward_source == "label" and self.label not in LABELS:
                self.unlabelled += 1
            outcome_msg.position = [float(self.episode), float(self.t), reward, 1.0, 0.0, float(success)]
        for publisher, msg in self.held_end:
            publisher.publish(msg)
        self.held_end = []

    def _abandon_episode(self, why: str) -> None:
        """End the episode in progress without an outcome (the recorder reads it as a reset). An episode
        that already ended keeps its held end messages: they go out when the next one begins."""
        if self.phase in IN_EPISODE:
            self.get_logger().warning(f"episode {self.episode} abandoned at step {self.t}: {why}")
            self.finished_key = self.current_key
        self.pending, self.policy_since, self.segment, self.twist = None, None, None, None

    def _capture(self, now: float, final: bool) -> None:
        self.phase, self.capture_after, self.final = OBSERVE, now, final
        self._try_capture(now)

    def _try_capture(self, now: float) -> None:
        fresh = self.joints_at > self.capture_after and (not self.cfg.pose_topic or self.pose_at > self.capture_after) \
            and (not self.cfg.camera_topic or self.frame_at > self.capture_after)
        if not fresh:
            return
        stamp = self.cfg.clock.stamp(self.episode, self.t)
        messages: list[tuple[Any, Any]] = []
        if self.final or self.pending is not None:
            reward, terminated, truncated, success = self.pending or (0.0, True, False, False)
            messages.append((self.step_pub, named_vector(STEP_NAMES, [self.episode, self.t, reward, terminated,
                                                                      truncated, success], stamp)))
        if self.cfg.camera_topic:
            messages.append((self.image_pub, self._restamped(self.frame, stamp)))
        pose = self._pose()
        cfg = self.cfg
        vector = proprio(pose[2], pose[3], self._opening(), self.t, cfg.max_steps, cfg.floor_z, cfg.max_opening)
        messages.append((self.state_pub, named_vector(state_names(PROPRIO_DIM), vector, stamp)))
        self.pending = None
        if self.final:
            self.held_end = messages
            self.finished_key = stamp_key(stamp)
            self.gripper_pub.publish(Float64MultiArray(data=self.cfg.gripper_open))
            self.policy_since = None
            self.after_wait = HOMING
            self._continue_after_wait()  # the episode is over: home on our own, then wait for the operator
            return
        self.current, self.current_key = messages, stamp_key(stamp)
        self.phase, self.policy_since = ACT, now
        self._send(now)

    def _send(self, now: float) -> None:
        for publisher, msg in self.current:
            publisher.publish(msg)
        self.last_publish = now

    @staticmethod
    def _restamped(frame: Image, stamp: Any) -> Image:
        msg = Image(height=frame.height, width=frame.width, encoding=frame.encoding,
                    is_bigendian=frame.is_bigendian, step=frame.step, data=frame.data)
        msg.header.stamp, msg.header.frame_id = stamp, frame.header.frame_id
        return msg

    # --- measurements ----------------------------------------------------------------------

    def _position(self) -> np.ndarray | None:
        """The axes' measured positions in the command space, or None before the first measurement."""
        if self.cfg.mode == "twist" and self.cfg.pose_topic:
            return self.pose
        if self.joints_at < 0:
            return None
        return np.array([self.joints[n] for n in self.cfg.axis_joints])

    def _pose(self) -> np.ndarray:
        return self.pose if self.cfg.pose_topic else np.array([self.joints[n] for n in self.cfg.axis_joints])

    def _opening(self) -> float:
        return float(sum(self.joints[n] for n in self.cfg.finger_joints))

    def _set_status(self, status: str) -> None:
        if self.safety.estop_latched:
            status = ESTOP
        if status != self.status:
            self.status = status
            self.status_pub.publish(String(data=status))

    def counters(self) -> dict[str, float]:
        counts = self.safety.counts
        return {"episode": self.episode, "step": self.t, "steps": self.steps, "active": float(self.active),
                "estop": float(self.safety.estop_latched), "rejected": counts["rejected"],
                "clipped": counts["clipped"], "clamped": counts["clamped"], "dropped": self.dropped,
                "stale": self.stale, "republished": self.republished, "unlabelled": self.unlabelled,
                **{f"{k}_stops": counts[f"{k}_stops"] for k in ("estop", "deadman", "watchdog")}}


def _stamp(seconds: float) -> Time:
    ns = round(seconds * 1e9)
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def main(argv: list[str] | None = None) -> int:
    return spin_node(RealArmBridge, argv)


if __name__ == "__main__":
    raise SystemExit(main())
