"""The real arm's moves and their command messages without ROS: twist streams and joint targets from
the safety filter, a stop that ends the move, and the messages the drivers receive."""
from __future__ import annotations

import numpy as np
import pytest
from test_safety import make_filter

from jsrl_ros.real_arm.commands import command_message, time_of
from jsrl_ros.real_arm.motion import ArmMotion, Target, Velocity
from jsrl_ros.real_arm.safety import DEADMAN

DT, HOLD, PERIOD = 0.1, 0.05, 0.02  # make_filter's dt; command_hold, 1 / command_rate
START = np.array([0.5, 0.0, 0.2, 0.0])


def motion(twist: bool) -> ArmMotion:
    return ArmMotion(twist, make_filter(), DT, HOLD, PERIOD)


def stream(m: ArmMotion, position: np.ndarray, t0: float, seconds: float, reason=None) -> tuple[np.ndarray, float]:
    """Apply each tick's velocity for one command period (a driver that keeps up)."""
    now = t0
    for _ in range(round(seconds / PERIOD)):
        position = position + m.tick(position, reason, now).values * PERIOD
        now += PERIOD
    return position, now


def test_a_twist_move_reaches_its_target_and_a_stop_ends_it_for_good() -> None:
    m = motion(twist=True)
    target = START + [0.05, -0.05, -0.05, 0.3]
    assert m.move_to(START, target, 0.0) is None  # nothing goes out before the first tick
    reached, now = stream(m, START, 0.0, 0.4)
    assert reached == pytest.approx(target, abs=1e-3) and m.settled(now)

    m.move_to(reached, START, now)
    halfway, now = stream(m, reached, now, 0.04)
    assert not np.any(m.tick(halfway, DEADMAN, now).values)
    after, _ = stream(m, halfway, now, 0.3)  # the stop cleared: no motion without a new move
    assert np.array_equal(after, halfway)


def test_a_new_twist_move_starts_where_the_sent_velocities_put_the_arm() -> None:
    m = motion(twist=True)
    m.move_to(START, START + [0.05, 0, 0, 0], 0.0)
    moved, now = stream(m, START, 0.0, 0.06)
    m.move_to(START, moved + [0.05, 0, 0, 0], now)  # a lagging measurement (START) does not stretch the move
    reached, _ = stream(m, moved, now, 0.4)
    assert reached[0] == pytest.approx(moved[0] + 0.05, abs=1e-3)


def test_joint_targets_go_out_once_and_a_stop_sends_one_hold_inside_the_box() -> None:
    m = motion(twist=False)
    far = np.array([0.69, 0.0, 0.2, 0.0])
    command = m.move_to(START, far, 0.0)
    assert isinstance(command, Target) and np.array_equal(command.positions, far)
    assert command.duration == pytest.approx(0.19 / 0.5)  # as fast as max_velocity allows, at least dt
    assert m.tick(START, None, 0.02) is None
    outside = np.array([0.75, 0.0, 0.2, 0.0])  # a noisy measurement beyond the face
    hold = m.tick(outside, DEADMAN, 0.04)
    assert np.array_equal(hold.positions, [0.7, 0.0, 0.2, 0.0]) and hold.duration == PERIOD
    assert m.tick(outside, DEADMAN, 0.06) is None and m.stop(None) is None
    stop = m.stop(START)
    assert np.array_equal(stop.positions, START) and stop.duration == PERIOD


def test_command_messages_carry_the_decision_time_to_the_nanosecond() -> None:
    twist = command_message(Velocity(np.array([0.1, -0.2, 0.3, 0.4])), 1234.5678901234, "base_link", [])
    assert (twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z, twist.twist.angular.z) == \
        (0.1, -0.2, 0.3, 0.4)
    assert twist.header.frame_id == "base_link" and (twist.header.stamp.sec, twist.header.stamp.nanosec) == \
        (1234, 567890123)
    trajectory = command_message(Target(np.array([1.0, 2.0]), 1.25), 7.0, "base_link", ["a", "b"])
    point = trajectory.points[-1]
    assert trajectory.joint_names == ["a", "b"] and list(point.positions) == [1.0, 2.0]
    assert (point.time_from_start.sec, point.time_from_start.nanosec) == (1, 250_000_000)
    assert time_of(2.9999999999) == time_of(3.0)
