"""Every safety rule of the real-arm bridge over real rclpy, against the fake arm: a flood of malformed
and out-of-range actions, silence, a released deadman, an e-stop and a deactivation mid-motion. In
every case the fake arm's true trajectory stays in the workspace box, and no motion is commanded
after the moment the rule says stop (the bridge stamps each command with the time it was decided)."""
from __future__ import annotations

import numpy as np
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from real_arm_helpers import ACTIONS, Probe, bridge, fake_arm
from std_msgs.msg import Bool, String

from jsrl_learning.config import ConfigError
from jsrl_ros.contract.names import STEP_NAMES

TOWARD_CORNER = [1.0, 1.0, -1.0, 1.0, -1.0]  # +x, +y, down, turn; gripper open


def assert_in_box(arm, node) -> None:
    low, high = np.array(node.safety.limits.workspace_min), np.array(node.safety.limits.workspace_max)
    positions = np.array([p for _, p in arm.trajectory])
    assert len(positions) > 0
    assert np.all(positions >= low) and np.all(positions <= high), (positions.min(0), positions.max(0))


def moving_after(twists, moment: float) -> list:
    return [(s, v) for s, v in twists if s >= moment and np.any(v != 0.0)]


def stationary(arm, probe, wait_s: float = 0.5) -> bool:
    """After commands in flight have landed, the arm's true position does not change over ``wait_s``
    (generous waits)."""
    probe.settle(0.2)
    before = arm.arm.position.copy()
    probe.settle(wait_s)
    return bool(np.array_equal(before, arm.arm.position))


def test_a_flood_of_malformed_and_out_of_range_actions_never_moves_the_arm_out_of_the_box(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    floods = 0
    for _ in range(8):
        assert ros.spin_until(lambda: probe.latest is not None and node.cycle.phase == "act", 20.0)
        ident = probe.latest
        for bad, names in (([np.nan, 0, 0, 0, -1], ACTIONS), ([0, np.inf, 0, 0, -1], ACTIONS),
                           ([0, 0, 0, 0], ACTIONS[:4]), ([0, 0, 0, 0, -1], ["a", "b", "c", "d", "e"]),
                           ([0, 0, 0, 0, -1, 0], ACTIONS + ["extra"])):  # a burst within the QoS depth (10)
            probe.act(ident, bad, names)
            floods += 1
        probe.act(ident, [50.0, 50.0, -50.0, 9.0, -1.0])  # far out of range: clipped, then limited
        assert ros.spin_until(lambda: probe.latest != ident, 20.0)
    assert ros.spin_until(lambda: node.safety.counts["rejected"] == floods, 10.0)
    assert node.safety.counts["clipped"] == 8 and node.cycle.outcomes.steps == 8
    assert_in_box(arm, node)
    v_max = np.array(node.safety.limits.max_velocity)
    assert all(np.all(np.abs(v) <= v_max + 1e-12) for _, v in probe.twists)
    high, low = node.safety.high, node.safety.low  # the box less its margin
    assert arm.arm.position[0] > high[0] - 0.005 and arm.arm.position[2] < low[2] + 0.005  # pressed into the corner


def test_silence_trips_the_watchdog_and_the_arm_holds(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    probe.drive(TOWARD_CORNER, 2)  # moving; then the policy falls silent
    timeout = node.safety.limits.watchdog_timeout
    assert ros.spin_until(lambda: node.safety.counts["watchdog_stops"] >= 1 and node.cycle.republished >= 1, 10.0)
    assert ros.spin_until(lambda: "watchdog" in probe.status, 10.0)
    # the last action, or the observation after it
    silent_since = max(node.safety.last_action_at, node.cycle.policy_since)
    assert moving_after(probe.twists, silent_since + timeout) == []
    assert any(s > silent_since + timeout for s, _ in probe.twists)  # the stream goes on: zero velocity
    assert stationary(arm, probe) and node.cycle.phase == "act"
    assert_in_box(arm, node)


def test_releasing_the_deadman_mid_motion_stops_the_arm(ros) -> None:
    probe = Probe(ros)
    held = {"value": True}
    probe.node.create_timer(0.05, lambda: probe.deadman_pub.publish(Bool(data=held["value"])))
    probe.owner_pub.publish(String(data="guide"))
    arm = fake_arm(ros)
    node = bridge(ros, **{"safety.deadman": "always"})
    probe.drive([0.0, 1.0, -1.0, 0.0, -1.0], 2)
    assert ros.spin_until(lambda: node.cycle.phase == "act", 10.0)
    probe.act(probe.latest, [0.0, 1.0, -1.0, 0.0, -1.0])
    assert ros.spin_until(lambda: node.cycle.phase == "move", 10.0)
    held["value"] = False
    probe.deadman_pub.publish(Bool(data=False))
    assert ros.spin_until(lambda: node.safety.counts["deadman_stops"] >= 1, 10.0)
    released = node.safety.deadman_released_at
    probe.drive([0.0, 1.0, -1.0, 0.0, -1.0], 2)  # steps go on (the idle guide), but without motion
    assert moving_after(probe.twists, released) == []
    assert stationary(arm, probe) and ros.spin_until(lambda: "deadman" in probe.status, 10.0)
    assert_in_box(arm, node)


def test_an_estop_mid_motion_stops_the_arm_until_it_is_explicitly_cleared(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    probe.drive(TOWARD_CORNER, 2)
    assert ros.spin_until(lambda: node.cycle.phase == "act", 10.0)
    probe.act(probe.latest, TOWARD_CORNER)
    assert ros.spin_until(lambda: node.cycle.phase == "move", 10.0)
    probe.estop_pub.publish(Bool(data=True))
    assert ros.spin_until(lambda: node.safety.estop_latched, 10.0)
    engaged = node.safety.estop_at
    probe.estop_pub.publish(Bool(data=False))  # releasing the button does not clear the latch
    assert not probe.call("jsrl/reset").success
    probe.act(probe.latest, TOWARD_CORNER)
    assert stationary(arm, probe, 1.0) and node.cycle.phase == "wait"
    assert moving_after(probe.twists, engaged) == []
    assert ros.spin_until(lambda: probe.status[-1] == "estop", 10.0) and node.counters()["estop"] == 1.0

    assert probe.call("safety/clear_estop").success
    assert ros.spin_until(lambda: probe.latest is not None and probe.latest[0] == 1, 20.0)  # homed, next episode
    assert np.allclose(arm.arm.position, node.cfg.home, atol=node.cfg.home_tolerance)
    assert_in_box(arm, node)


def test_deactivating_mid_motion_stops_the_arm_and_only_an_active_bridge_commands_it(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    client = probe.node.create_client(ChangeState, "real_arm_bridge/change_state")
    probe.drive(TOWARD_CORNER, 2)
    assert ros.spin_until(lambda: node.cycle.phase == "act", 10.0)
    probe.act(probe.latest, TOWARD_CORNER)
    assert ros.spin_until(lambda: node.cycle.phase == "move", 10.0)
    assert client.wait_for_service(timeout_sec=10.0)
    asked = node._now()
    future = client.call_async(ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE)))
    assert ros.spin_until(future.done, 10.0) and future.result().success
    deactivated = node._now()  # (ticks between the request and its handling may still move: same executor)
    assert ros.spin_until(lambda: probe.twists[-1][0] >= asked, 10.0)
    probe.settle(0.3)
    count = len(probe.twists)
    probe.act(probe.latest, TOWARD_CORNER)
    assert stationary(arm, probe, 1.0) and len(probe.twists) == count  # an inactive bridge commands nothing
    assert moving_after(probe.twists, deactivated) == [] and not np.any(probe.twists[-1][1])  # its last: stop
    assert ros.spin_until(lambda: probe.status[-1] == "inactive", 10.0) and not node.active

    future = client.call_async(ChangeState.Request(transition=Transition(id=Transition.TRANSITION_ACTIVATE)))
    assert ros.spin_until(future.done, 10.0) and future.result().success
    assert ros.spin_until(lambda: probe.latest is not None and probe.latest[0] == 1, 20.0)
    assert_in_box(arm, node)


def test_joint_trajectory_commands_stay_in_the_box_and_an_estop_holds_the_arm(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros, command_mode="joint_trajectory")
    probe.drive(TOWARD_CORNER, 7)
    low = np.array(node.safety.limits.workspace_min)
    high = np.array(node.safety.limits.workspace_max)
    assert probe.trajectories and all(np.all(p >= low) and np.all(p <= high) for _, p in probe.trajectories)
    assert probe.twists == []
    probe.act(probe.latest, [-1.0, -1.0, 1.0, -1.0, -1.0])
    assert ros.spin_until(lambda: node.cycle.phase == "move", 10.0)
    probe.estop_pub.publish(Bool(data=True))
    assert ros.spin_until(lambda: node.safety.estop_latched, 10.0)
    assert ros.spin_until(lambda: probe.trajectories[-1][0] >= node.safety.estop_at, 10.0)  # the hold
    hold = probe.trajectories[-1][1]
    assert stationary(arm, probe, 1.0)
    assert np.allclose(arm.arm.position, hold, atol=0.005)
    assert_in_box(arm, node)


def test_the_pose_can_come_from_an_end_effector_pose_topic(ros) -> None:
    """An arm whose joints are not x, y, z, yaw reports its grasp point as a PoseStamped."""
    probe = Probe(ros)
    arm = fake_arm(ros, pose_topic="ee_pose")
    node = bridge(ros, ee_pose_topic="ee_pose", axis_joints=["joint1"])
    probe.drive([1.0, -1.0, 1.0, -1.0, -1.0], 6)
    # A starved bridge streams a move past its control period, so an observation may catch the arm still
    # moving; once it rests (the unanswered observation's watchdog stops it), a step without motion must
    # read it where it is.
    probe.settle(node.safety.limits.watchdog_timeout)
    assert stationary(arm, probe)
    probe.drive([0.0, 0.0, 0.0, 0.0, -1.0], 1)
    assert_in_box(arm, node)
    assert np.allclose(node.sensors.position(), arm.arm.position, atol=0.005)
    proprio = probe.states[probe.latest].position
    assert proprio[0] == pytest.approx(arm.arm.position[2] - node.cfg.floor_z, abs=0.005)  # height
    assert proprio[1] == pytest.approx(arm.arm.position[3] / (np.pi / 2), abs=0.01)  # yaw
    assert arm.arm.position[0] > node.safety.high[0] - 0.005  # it moved, into the +x face


def test_a_grasp_is_detected_by_width_after_the_lift_and_a_human_label_sets_the_reward(ros) -> None:
    probe = Probe(ros)
    arm = fake_arm(ros, object=[0.55, 0.0, 0.03, 0.05])
    node = bridge(ros, auto_confirm=False, reward_source="label")
    assert ros.spin_until(lambda: node.cycle.phase == "wait", 10.0)
    assert probe.call("jsrl/reset").success  # the operator: home the arm
    assert ros.spin_until(lambda: node.cycle.phase == "wait" and node.cycle.after_wait == "episode", 20.0)
    assert probe.call("jsrl/reset").success  # the operator: the scene is ready
    probe.drive([0.0, 0.0, -1.0, 0.0, -1.0], 5)  # down onto the object
    probe.act(probe.latest, [0.0, 0.0, 0.0, 0.0, 1.0])  # close and lift
    assert ros.spin_until(lambda: node.cycle.phase == "wait" and node.cycle.after_wait == "episode", 20.0)
    assert node.cycle.outcomes.detected and (0, 6) not in probe.steps  # the end waits for the operator
    probe.label_pub.publish(String(data="failure"))
    assert ros.spin_until(lambda: node.cycle.outcomes.label == "failure", 10.0)
    assert probe.call("jsrl/reset").success
    assert ros.spin_until(lambda: (0, 6) in probe.steps and (1, 0) in probe.states, 10.0)
    outcome = dict(zip(STEP_NAMES, probe.steps[(0, 6)]))
    assert outcome == {"episode": 0, "step": 6, "reward": 0.0, "terminated": 1.0, "truncated": 0.0, "success": 1.0}
    assert probe.order.index((0, 6)) < probe.order.index((1, 0))
    assert_in_box(arm, node)


def test_a_missing_safety_limit_refuses_to_start(ros) -> None:
    with pytest.raises(ConfigError, match=r"safety.*missing safety limit.*watchdog_timeout"):
        bridge(ros, **{"safety.watchdog_timeout": None})
    with pytest.raises(ConfigError, match=r"workspace_max: axis 0"):
        bridge(ros, **{"safety.workspace_max": [0.3, 0.16, 0.3, 1.5708]})


# --- measured state and hostile sensors (issue 11) ----------------------------------------------------


def test_a_second_joint_states_publisher_holds_the_arm_in_its_box(ros) -> None:
    """The review's probe: a leftover publisher reporting the arm at x = y = 0, z = 0.1 drove it 4.36 m out."""
    from sensor_msgs.msg import JointState

    from jsrl_ros.contract.qos import SENSOR
    from jsrl_ros.real_arm.measured_state import FOREIGN_SOURCE

    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    probe.drive([0.0, 0.0, 0.0, 0.0, -1.0], 1)
    forged = JointState(name=["x", "y", "z", "yaw", "finger_left", "finger_right"],
                        position=[0.0, 0.0, 0.1, 0.0, 0.04, 0.04])
    leftover = ros.node("joint_state_publisher").create_publisher(JointState, "joint_states", SENSOR)
    probe.node.create_timer(0.005, lambda: leftover.publish(forged))
    probe.drive([1.0, 1.0, 1.0, 0.0, -1.0], 10)
    assert_in_box(arm, node)
    assert node.counters()["foreign"] >= 1 and node.counters()["implausible"] > 0
    assert node.cycle.stop_reason(node._now()) == FOREIGN_SOURCE and FOREIGN_SOURCE in node.health.status()[1]
    assert stationary(arm, probe)


def test_frames_the_observation_node_cannot_read_are_dropped_and_never_observed(ros) -> None:
    from sensor_msgs.msg import Image

    from jsrl_ros.contract.qos import SENSOR

    probe = Probe(ros)
    fake_arm(ros)
    node = bridge(ros)
    probe.drive([0.0, 0.0, 0.0, 0.0, -1.0], 1)
    # 16UC1 frames from the camera driver's own node (the filter lets the camera's publisher through)
    camera = next(n for n in ros.nodes if n.get_name() == "fake_arm")
    bad = Image(height=60, width=80, encoding="16UC1", step=160, data=bytes(160 * 60))
    bursts = camera.create_publisher(Image, "camera/color/image_raw", SENSOR)
    for _ in range(20):
        bursts.publish(bad)
    assert ros.spin_until(lambda: node.dropped >= 1, 10.0)
    probe.drive([0.0, 0.0, 0.0, 0.0, -1.0], 2)  # the loop goes on, on good frames
    assert node.frame_format[0] != "16UC1" and node.sensors.frame.encoding != "16UC1"


def test_a_move_the_arm_does_not_follow_raises_a_tracking_alarm_and_holds(ros) -> None:
    from jsrl_ros.real_arm.measured_state import TRACKING
    from jsrl_ros.runtime.diagnostics import WARN

    probe = Probe(ros)
    arm = fake_arm(ros)
    node = bridge(ros)
    probe.drive([0.0, 0.0, 0.0, 0.0, -1.0], 1)
    arm.arm.command_velocity = lambda velocity: None  # the arm ignores its commands: blocked, or a dead driver
    probe.drive([1.0, 0.0, 0.0, 0.0, -1.0], 2)
    assert node.safety.measured.tracking_faults >= 1
    assert ros.spin_until(lambda: node.health.status()[0] == WARN and TRACKING in node.health.status()[1], 10.0)
    assert node.cycle.stop_reason(node._now()) == TRACKING
    assert probe.call("safety/clear_estop").success and node.safety.measured.tracking_fault is None
