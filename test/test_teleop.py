"""Teleop: command -> action mapping, key handling without a terminal, and the keyboard node's topics."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import termios

import numpy as np
import pytest
from geometry_msgs.msg import Twist, TwistStamped
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from jsrl_ros.contract.conversions import MalformedMessage
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.nodes.teleop_keyboard import KeyboardTeleop, handle_key
from jsrl_ros.teleop_mapping import GRIPPER_CLOSE, JoyMap, TwistScales, joy_to_action, twist_to_action


def twist(vx: float = 0.0, vy: float = 0.0, vz: float = 0.0, wz: float = 0.0) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.z = vx, vy, vz, wz
    return msg


def test_twist_maps_to_a_normalised_clipped_action() -> None:
    scales = TwistScales(linear=0.5, angular=2.0)
    np.testing.assert_allclose(twist_to_action(twist(0.25, -0.5, 2.0, 1.0), scales), [0.5, -1.0, 1.0, 0.5, -1.0])
    stamped = TwistStamped()
    stamped.twist = twist(vy=0.1)
    action = twist_to_action(stamped, scales, gripper=GRIPPER_CLOSE)
    assert action.dtype == np.float32
    np.testing.assert_allclose(action, [0, 0.2, 0, 0, 1.0], rtol=1e-6)
    with pytest.raises(MalformedMessage, match="non-finite"):
        twist_to_action(twist(vx=math.nan))
    with pytest.raises(ValueError, match="linear"):
        TwistScales(linear=0.0)


def joy(axes: list[float], buttons: list[int]) -> Joy:
    return Joy(axes=axes, buttons=buttons)


def test_joy_needs_its_deadman_and_follows_the_axis_map() -> None:
    axes_map = JoyMap(axes=(1, 0, 3, 2), scales=(1.0, -1.0, 0.5, 1.0), gripper_button=1)
    axes = [0.3, 0.6, -0.4, 1.0]
    assert joy_to_action(joy(axes, [0, 0, 0]), axes_map, deadman_button=2) is None
    np.testing.assert_allclose(joy_to_action(joy(axes, [0, 0, 1]), axes_map, 2), [0.6, -0.3, 0.5, -0.4, -1.0],
                               rtol=1e-6)
    assert joy_to_action(joy(axes, [0, 1, 1]), axes_map, 2)[4] == GRIPPER_CLOSE
    with pytest.raises(MalformedMessage, match="3 axes and 3 buttons"):
        joy_to_action(joy(axes[:3], [0, 0, 1]), axes_map, 2)
    with pytest.raises(MalformedMessage, match="buttons 5"):
        joy_to_action(joy(axes, [1, 1, 1]), axes_map, 5)
    with pytest.raises(ValueError, match="4 axis indices"):
        JoyMap(axes=(0, 1, 2))


@pytest.mark.parametrize("key,twist_values", [
    ("i", (0.5, 0, 0, 0)), (",", (-0.5, 0, 0, 0)), ("j", (0, 0.5, 0, 0)), ("l", (0, -0.5, 0, 0)),
    ("t", (0, 0, 0.5, 0)), ("b", (0, 0, -0.5, 0)), ("u", (0, 0, 0, 2.0)), ("o", (0, 0, 0, -2.0)),
    ("k", (0, 0, 0, 0)), ("", (0, 0, 0, 0)), ("x", (0, 0, 0, 0)),
])
def test_motion_keys_and_stop(key: str, twist_values: tuple[float, ...]) -> None:
    command = handle_key(key, speed=0.5, turn=2.0)
    assert command.twist == twist_values and command.gripper == -1.0
    assert not (command.label or command.end_episode or command.quit)


def test_speed_gripper_label_end_and_quit_keys() -> None:
    faster = handle_key("q", 0.5, 2.0)
    assert (faster.speed, faster.turn) == pytest.approx((0.55, 2.2)) and faster.twist == (0, 0, 0, 0)
    assert handle_key("z", 0.5, 2.0).speed == pytest.approx(0.45)
    assert handle_key("g", 0.5, 2.0).gripper == GRIPPER_CLOSE
    assert handle_key("s", 0.5, 2.0).label == "success" and handle_key("f", 0.5, 2.0).label == "failure"
    assert handle_key("r", 0.5, 2.0).end_episode and handle_key("\x03", 0.5, 2.0).quit


def test_keyboard_node_publishes_commands_labels_and_ends_episodes(ros) -> None:
    teleop = ros.add(KeyboardTeleop(context=ros.context))
    bridge = ros.node("bridge")  # plays the sim bridge's reset service and the arbiter's inputs
    twists: list[TwistStamped] = []
    grippers: list[float] = []
    labels: list[str] = []
    resets: list[int] = []

    def on_reset(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        resets.append(1)
        response.success = True
        return response

    bridge.create_service(Trigger, "jsrl/reset", on_reset)
    subs = [bridge.create_subscription(TwistStamped, "teleop/cmd_vel_stamped", twists.append, RELIABLE),
            bridge.create_subscription(Float64, "teleop/gripper", lambda m: grippers.append(m.data), RELIABLE),
            bridge.create_subscription(String, "teleop/label", lambda m: labels.append(m.data), RELIABLE)]
    assert ros.spin_until(lambda: all(s.get_publisher_count() == 1 for s in subs) and
                          teleop.reset_client.service_is_ready())
    for key in ("i", "g", "s", "r"):
        teleop.apply(handle_key(key, teleop.speed, teleop.turn))
    assert ros.spin_until(lambda: len(twists) == 4 and len(grippers) == 4 and labels and resets)
    assert twists[0].twist.linear.x == 0.5 and twists[1].twist.linear.x == 0.0
    assert twists[0].header.stamp.sec > 0
    assert grippers == [-1.0, 1.0, -1.0, -1.0] and labels == ["success"] and resets == [1]


def test_keyboard_teleop_in_a_terminal_quits_on_ctrl_c_and_restores_the_terminal(ros) -> None:
    master, slave = os.openpty()
    settings = termios.tcgetattr(slave)
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros.context.get_domain_id()),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    process = subprocess.Popen([sys.executable, "-m", "jsrl_ros.nodes.teleop_keyboard", "--ros-args",
                                "-p", "speed:=0.3"], stdin=slave, stdout=slave, stderr=slave, env=env)
    try:
        twists: list[TwistStamped] = []
        ros.node("arbiter").create_subscription(TwistStamped, "teleop/cmd_vel_stamped", twists.append, RELIABLE)
        assert ros.spin_until(lambda: len(twists) > 0, timeout_s=60.0)  # the key loop runs: keys are read
        os.write(master, b"i")
        assert ros.spin_until(lambda: any(t.twist.linear.x == pytest.approx(0.3) for t in twists))
        os.write(master, b"\x03")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    assert termios.tcgetattr(slave) == settings
    os.close(master)
    os.close(slave)


def test_teleop_commands_hold_the_twist_with_the_gripper_and_a_released_deadman_clears() -> None:
    from types import SimpleNamespace

    from jsrl_learning.guides.human import LatestCommand
    from jsrl_ros.contract.conversions import MalformedMessage
    from jsrl_ros.teleop_mapping import JoyMap, TeleopCommands, TwistScales

    source = LatestCommand()
    teleop = TeleopCommands(source, TwistScales(), JoyMap(), deadman_button=4)
    twist = SimpleNamespace(linear=SimpleNamespace(x=0.25, y=0.0, z=0.0), angular=SimpleNamespace(z=0.0))
    teleop.twist(twist)
    assert source.latest()[0].tolist() == [0.5, 0.0, 0.0, 0.0, -1.0]
    teleop.gripper(SimpleNamespace(data=1.0))  # the gripper alone re-issues the held twist with it
    assert source.latest()[0].tolist() == [0.5, 0.0, 0.0, 0.0, 1.0]
    with pytest.raises(MalformedMessage, match="outside"):
        teleop.gripper(SimpleNamespace(data=3.0))
    teleop.joy(SimpleNamespace(axes=[0.0] * 5, buttons=[0] * 5))  # deadman released
    assert source.latest() is None
