"""The arm drivers' messages for :mod:`jsrl_ros.real_arm.motion`'s commands (no rclpy).

A velocity becomes a geometry_msgs/TwistStamped (MoveIt Servo's ``delta_twist_cmds``: linear
x, y, z and angular z), a target a one-point trajectory_msgs/JointTrajectory (a
joint_trajectory_controller). Each is stamped with the time the safety layer decided it.
"""
from __future__ import annotations

from typing import Sequence

from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TwistStamped
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jsrl_ros.real_arm.motion import Command, Velocity


def command_message(command: Command, now: float, frame_id: str,
                    joint_names: Sequence[str]) -> TwistStamped | JointTrajectory:
    """``command`` decided at ``now`` (s): a twist in ``frame_id``, or a trajectory of ``joint_names``."""
    if isinstance(command, Velocity):
        msg = TwistStamped()
        msg.header.frame_id = frame_id
        twist = msg.twist
        twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.z = (float(v) for v in command.values)
    else:
        sec = int(command.duration)
        point = JointTrajectoryPoint(positions=[float(v) for v in command.positions],
                                     time_from_start=Duration(sec=sec, nanosec=int((command.duration - sec) * 1e9)))
        msg = JointTrajectory(joint_names=list(joint_names), points=[point])
    msg.header.stamp = time_of(now)
    return msg


def time_of(seconds: float) -> Time:
    """A header stamp for ``seconds`` on the node's clock, to the nearest nanosecond."""
    ns = round(seconds * 1e9)
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)
