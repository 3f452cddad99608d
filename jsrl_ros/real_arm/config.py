"""The real-arm bridge's parameters, declared on the node and checked before it starts.

Everything the bridge needs to know about the arm, the task and the safety limits: a wrong or
missing value is a ConfigError naming it, so the node refuses to start (``spin_node``: exit
code 2) rather than command an arm with a half-right configuration. The ``safety.*`` limits
are declared without defaults and read-only (docs/sim_to_real.md).
"""
from __future__ import annotations

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from jsrl_learning.config import ConfigError, require
from jsrl_ros.contract import topics
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.real_arm.safety import LIMIT_KEYS, SafetyFilter, SafetyLimits, limits_from_mapping
from jsrl_ros.real_arm.task import REWARD_SOURCES, GraspDetector

MODES = ("twist", "joint_trajectory")
_SAFETY_TYPES = {"deadman": Parameter.Type.STRING, "watchdog_timeout": Parameter.Type.DOUBLE,
                 "deadman_timeout": Parameter.Type.DOUBLE, "measurement_timeout": Parameter.Type.DOUBLE}


class RealArmConfig:
    """The bridge's checked parameters (attributes) and its :class:`SafetyFilter` (``safety``)."""

    def __init__(self, node: Node) -> None:
        where = f"{node.get_name()} parameters"
        self._interface(node, where)
        self._task(node, where)
        limits = self._limits(node, where)
        require(len(self.margin) == limits.n_axes, where, f"box_margin needs one value per axis ({limits.n_axes})")
        try:
            self.safety = SafetyFilter(limits, self.dt, self.margin)
        except ValueError as exc:
            raise ConfigError(f"{where}: box_margin: {exc}") from exc
        limits = self.safety.limits
        require(limits.n_axes == self.n_axes, f"{where}: safety.workspace_min",
                f"has {limits.n_axes} axes, the arm has {self.n_axes} ({self.axis_names})")
        require(limits.watchdog_timeout > self.dt, f"{where}: safety.watchdog_timeout",
                f"{limits.watchdog_timeout} s must exceed one control period dt = {self.dt} s")
        require(np.array_equal(self.safety.inside(self.home), self.home), f"{where}: home",
                f"{self.home.tolist()} is not inside the workspace box (less box_margin)")
        require(limits.workspace_min[self.lift_axis] <= self.lift_to <= limits.workspace_max[self.lift_axis],
                f"{where}: lift_to", f"{self.lift_to} is outside the workspace box on axis {self.lift_axis}")

    def _interface(self, node: Node, where: str) -> None:
        self.dt = node.declare_parameter("dt", 0.1).value
        self.action_names = list(node.declare_parameter("action_names", Parameter.Type.STRING_ARRAY).value or [])
        self.first_episode = node.declare_parameter("first_episode", 0).value
        self.mode = node.declare_parameter("command_mode", "twist").value
        self.axis_joints = list(node.declare_parameter("axis_joints", ["x", "y", "z", "yaw"]).value)
        self.joint_state_source = node.declare_parameter("joint_state_source", "").value
        self.pose_topic = node.declare_parameter("ee_pose_topic", "").value
        self.finger_joints = list(node.declare_parameter("finger_joints", ["finger_left", "finger_right"]).value)
        self.twist_topic = node.declare_parameter("twist_topic", "servo_node/delta_twist_cmds").value
        self.trajectory_topic = node.declare_parameter(
            "trajectory_topic", "joint_trajectory_controller/joint_trajectory").value
        self.gripper_topic = node.declare_parameter("gripper_topic", "gripper_controller/commands").value
        self.gripper_open = [float(v) for v in node.declare_parameter("gripper_open_command", [0.04, 0.04]).value]
        self.gripper_close = [float(v) for v in node.declare_parameter("gripper_close_command", [0.0, 0.0]).value]
        self.command_frame = node.declare_parameter("command_frame", "base_link").value
        self.command_rate = node.declare_parameter("command_rate", 50.0).value
        self.command_hold = node.declare_parameter("command_hold", 0.05).value
        self.margin = [float(v) for v in node.declare_parameter("box_margin", [0.01, 0.01, 0.01, 0.05]).value]
        self.camera_topic = node.declare_parameter("camera_topic", topics.ARM_CAMERA_IMAGE).value
        self.autostart = node.declare_parameter("autostart", False).value
        self.auto_confirm = node.declare_parameter("auto_confirm", False).value
        require(self.mode in MODES, where, f"command_mode must be one of {MODES}, got {self.mode!r}")
        try:
            self.clock = StepClock(self.dt)
        except ValueError as exc:
            raise ConfigError(f"{where}: dt: {exc}") from exc
        require(self.first_episode >= 0, where, f"first_episode must be >= 0, got {self.first_episode}")
        require(len(self.finger_joints) > 0 and len(self.gripper_open) == len(self.gripper_close) > 0, where,
                "finger_joints must name the fingers; gripper_open_command / gripper_close_command must be "
                "equally long")
        require(self.command_rate > 0 and min(self.margin) >= 0, where, "command_rate must be > 0, box_margin >= 0")
        require(self.command_hold >= 1.0 / self.command_rate, where,
                f"command_hold {self.command_hold} s must be at least one command period (1 / command_rate)")
        uses_joints = self.mode == "joint_trajectory" or not self.pose_topic
        require(not uses_joints or len(self.axis_joints) > 0, where, "axis_joints must name the axes' joints")
        self.n_axes = len(self.axis_joints) if self.mode == "joint_trajectory" else 4
        self.axis_names = self.axis_joints if self.mode == "joint_trajectory" else ["x", "y", "z", "yaw"]
        require(not uses_joints or len(self.axis_joints) == self.n_axes, where,
                f"twist mode without ee_pose_topic reads x, y, z, yaw from axis_joints (4 names), "
                f"got {self.axis_joints}")
        require(bool(self.pose_topic) or len(self.axis_joints) == 4, where,
                "the proprio observation needs the end effector's x, y, z, yaw: set ee_pose_topic, or "
                "axis_joints must be those 4 (a Cartesian arm)")
        require(len(self.action_names) == self.n_axes + 1 and all(self.action_names), where,
                f"action_names must name {self.n_axes} motion dimensions and the gripper, got {self.action_names}")

    def _task(self, node: Node, where: str) -> None:
        self.max_steps = node.declare_parameter("max_steps", 15).value
        self.action_scale = np.asarray(node.declare_parameter("action_scale", [0.05, 0.05, 0.05, 0.3]).value, float)
        self.home = np.asarray(node.declare_parameter("home", [0.55, 0.0, 0.25, 0.0]).value, dtype=np.float64)
        self.home_tolerance = node.declare_parameter("home_tolerance", 0.01).value
        self.floor_z = node.declare_parameter("floor_z", 0.0).value
        self.max_opening = node.declare_parameter("max_opening", 0.08).value
        self.close_time = node.declare_parameter("close_time", 0.5).value
        self.lift_axis = node.declare_parameter("lift_axis", 2).value
        self.lift_to = node.declare_parameter("lift_to", 0.3).value
        self.lift_time = node.declare_parameter("lift_time", 2.0).value
        min_width = node.declare_parameter("grasp_min_width", 0.005).value
        max_width = node.declare_parameter("grasp_max_width", 0.075).value
        self.reward_source = node.declare_parameter("reward_source", "detector").value
        require(self.max_steps > 0, where, f"max_steps must be > 0, got {self.max_steps}")
        require(self.action_scale.shape == (self.n_axes,) and np.all(self.action_scale > 0), where,
                f"action_scale must give {self.n_axes} positive per-step deltas, got {self.action_scale.tolist()}")
        require(self.home.shape == (self.n_axes,), where, f"home must place the {self.n_axes} axes")
        require(0 <= self.lift_axis < self.n_axes, where, f"lift_axis {self.lift_axis} is not an axis index")
        require(self.home_tolerance > 0 and self.max_opening > 0 and self.close_time >= 0 and self.lift_time > 0,
                where, "home_tolerance, max_opening, lift_time must be > 0; close_time >= 0")
        require(self.reward_source in REWARD_SOURCES, where,
                f"reward_source must be one of {REWARD_SOURCES}, got {self.reward_source!r}")
        try:
            self.detector = GraspDetector(min_width, max_width)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def _limits(self, node: Node, where: str) -> SafetyLimits:
        """Every ``safety.*`` limit is declared without a default: a missing one refuses to start."""
        values = {}
        for key in LIMIT_KEYS:
            kind = _SAFETY_TYPES.get(key, Parameter.Type.DOUBLE_ARRAY)
            try:
                values[key] = node.declare_parameter(f"safety.{key}", kind,
                                                     ParameterDescriptor(read_only=True)).value
            except ParameterException as exc:
                raise ConfigError(f"{where}: safety.{key}: {exc}") from exc
        return limits_from_mapping(values, f"{where}: safety")
