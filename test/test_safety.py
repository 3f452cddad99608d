"""The safety layer without ROS: limits validation, and each rule of SafetyFilter on a fake clock."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jsrl_learning.config import ConfigError
from jsrl_ros.real_arm.safety import (DEADMAN, ESTOP, WATCHDOG, SafetyFilter, TwistSegment, limits_from_mapping,
                                      load_limits)

CONFIG = Path(__file__).resolve().parents[1] / "config" / "ros" / "real_arm.yaml"
LIMITS = {"workspace_min": [0.4, -0.2, 0.0, -1.5], "workspace_max": [0.7, 0.2, 0.3, 1.5],
          "max_velocity": [0.5, 0.5, 0.5, 3.0], "max_step": [0.05, 0.05, 0.05, 0.3],
          "watchdog_timeout": 0.5, "deadman": "guide", "deadman_timeout": 0.3,
          "jump_tolerance": [0.005, 0.005, 0.005, 0.05], "tracking_tolerance": [0.02, 0.02, 0.02, 0.2],
          "measurement_timeout": 0.2}


def make_filter(margin: float = 0.0, **changes) -> SafetyFilter:
    return SafetyFilter(limits_from_mapping({**LIMITS, **changes}, "test"), dt=0.1, margin=margin)


def test_the_shipped_config_holds_valid_limits() -> None:
    limits = load_limits(CONFIG)
    assert limits.n_axes == 4 and limits.deadman in ("off", "guide", "always")


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_a_missing_limit_refuses_to_start_naming_it(key: str) -> None:
    data = {k: v for k, v in LIMITS.items() if k != key}
    with pytest.raises(ConfigError, match=f"missing safety limit.*{key}"):
        limits_from_mapping(data, "real_arm.yaml")


def test_inverted_short_non_positive_and_unknown_limits_name_their_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"real_arm\.yaml\.workspace_max: axis 2: max -0\.1 is not above"):
        limits_from_mapping({**LIMITS, "workspace_max": [0.7, 0.2, -0.1, 1.5]}, "real_arm.yaml")
    with pytest.raises(ConfigError, match=r"\.max_step: has 3 values for 4 axes"):
        limits_from_mapping({**LIMITS, "max_step": [0.05, 0.05, 0.05]}, "real_arm.yaml")
    with pytest.raises(ConfigError, match=r"\.max_velocity: must be > 0"):
        limits_from_mapping({**LIMITS, "max_velocity": [0.5, 0.0, 0.5, 3.0]}, "real_arm.yaml")
    with pytest.raises(ConfigError, match=r"\.watchdog_timeout: must be > 0"):
        limits_from_mapping({**LIMITS, "watchdog_timeout": -1.0}, "real_arm.yaml")
    with pytest.raises(ConfigError, match=r"\.deadman: must be one of"):
        limits_from_mapping({**LIMITS, "deadman": "sometimes"}, "real_arm.yaml")
    with pytest.raises(ConfigError, match=r"unknown safety key.*max_accel"):
        limits_from_mapping({**LIMITS, "max_accel": 1.0}, "real_arm.yaml")
    broken = tmp_path / "real_arm.yaml"
    broken.write_text(CONFIG.read_text().replace("      watchdog_timeout:", "      #watchdog_timeout:"))
    with pytest.raises(ConfigError, match=f"{broken}.*missing safety limit.*watchdog_timeout"):
        load_limits(broken)


def test_malformed_actions_are_rejected_and_counted_out_of_range_ones_clipped() -> None:
    f = make_filter()
    for bad in ([np.nan, 0, 0, 0, 0], [0, np.inf, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0, 0, 0], []):
        assert f.accept(bad, 5) is None
    assert f.counts["rejected"] == 5 and f.counts["clipped"] == 0
    assert f.accept([3.0, -2.0, 0.5, 0.0, 1.0], 5).tolist() == [1.0, -1.0, 0.5, 0.0, 1.0]
    assert f.counts["clipped"] == 1 and f.counts["rejected"] == 5


def test_targets_stay_in_the_box_and_within_the_step_and_velocity_limits() -> None:
    f = make_filter(margin=0.002, max_velocity=[0.3, 0.5, 0.5, 3.0])
    rng = np.random.default_rng(0)
    for _ in range(2000):
        position = rng.uniform([0.3, -0.3, -0.1, -2.0], [0.8, 0.3, 0.4, 2.0])  # even from outside the box
        delta = rng.normal(0.0, 0.5, size=4)
        target = f.target(position, delta)
        assert np.all(target >= np.array(LIMITS["workspace_min"]) + 0.002)
        assert np.all(target <= np.array(LIMITS["workspace_max"]) - 0.002)
        inside = LIMITS["workspace_min"][0] + 0.05 < position[0] < LIMITS["workspace_max"][0] - 0.05
        if inside:  # x: max_step 0.05, but 0.3 m/s x 0.1 s = 0.03 is the tighter limit
            assert abs(target[0] - position[0]) <= 0.03 + 1e-12
    assert f.counts["clamped"] > 0
    assert f.target([0.5, 0.0, 0.1, 0.0], [0.01, 0.0, 0.0, 0.0]).tolist() == [0.51, 0.0, 0.1, 0.0]


def test_velocities_are_capped_and_never_point_out_of_the_box() -> None:
    f = make_filter()
    v = f.velocity([0.5, 0.0, 0.1, 0.0], [2.0, -2.0, 0.1, -9.0])
    assert v.tolist() == [0.5, -0.5, 0.1, -3.0]
    at_faces = f.velocity([0.7, -0.2, 0.35, 0.0], [0.1, -0.1, 0.1, 0.1])
    assert at_faces.tolist() == [0.0, 0.0, 0.0, 0.1]
    assert f.velocity([0.7, -0.2, 0.35, 0.0], [-0.1, 0.1, -0.1, 0.0]).tolist() == [-0.1, 0.1, -0.1, 0.0]
    assert f.duration([0.5, 0.0, 0.1, 0.0], [0.6, 0.0, 0.1, 0.0], at_least=0.1) == pytest.approx(0.2)


def test_the_watchdog_stops_after_the_timeout_and_a_valid_action_restarts_it() -> None:
    f = make_filter(deadman="off")
    assert f.stop_reason(10.5, False, policy_since=10.0) is None  # exactly the timeout: still fine
    assert f.stop_reason(10.51, False, policy_since=10.0) == WATCHDOG
    f.feed(10.6)
    assert f.stop_reason(11.0, False, policy_since=10.0) is None
    assert f.stop_reason(11.2, False, policy_since=10.0) == WATCHDOG
    assert f.stop_reason(99.0, False, policy_since=None) is None  # the bridge moving on its own (homing)
    assert f.counts["watchdog_stops"] == 2


@pytest.mark.parametrize("mode", ["off", "guide", "always"])
def test_the_deadman_stops_the_arm_when_released_or_silent(mode: str) -> None:
    f = make_filter(deadman=mode)
    guarded = {"off": (False, False), "guide": (True, False), "always": (True, True)}[mode]  # guide, explorer
    for guide_in_control, expect_stop in zip((True, False), guarded):
        assert (f.stop_reason(1.0, guide_in_control, None) == DEADMAN) == expect_stop  # never held
        f.set_deadman(True, 1.0)
        assert f.stop_reason(1.25, guide_in_control, None) is None  # held, re-sent within deadman_timeout
        assert (f.stop_reason(1.35, guide_in_control, None) == DEADMAN) == expect_stop  # silent too long
        f.set_deadman(True, 2.0)
        f.set_deadman(False, 2.1)
        assert (f.stop_reason(2.1, guide_in_control, None) == DEADMAN) == expect_stop  # released
        assert f.deadman_released_at == 2.1


def test_the_estop_latches_until_explicitly_cleared_and_outranks_every_other_stop() -> None:
    f = make_filter(deadman="always")
    f.set_deadman(True, 0.0)
    f.set_estop(True, 1.0)
    assert f.stop_reason(1.0, True, policy_since=0.0) == ESTOP and f.estop_at == 1.0
    assert not f.clear_estop()  # refused while the input is still engaged
    f.set_estop(False, 2.0)
    assert f.stop_reason(2.0, True, None) == ESTOP  # releasing the input does not clear the latch
    assert f.clear_estop()
    f.set_deadman(True, 2.0)
    assert f.stop_reason(2.0, True, None) is None
    assert f.counts["estop_stops"] == 1


def test_a_margin_that_leaves_no_box_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        make_filter(margin=0.2)


def test_a_twist_segment_never_overshoots_however_late_the_commands_come() -> None:
    f = make_filter()
    rng = np.random.default_rng(1)
    start, target = np.array([0.5, 0.0, 0.2, 0.0]), np.array([0.55, -0.03, 0.15, 0.3])
    segment = TwistSegment(start, target, t0=0.0, duration=0.1, hold=0.05)
    position, now = start.copy(), 0.0
    for _ in range(60):  # the driver applies each velocity until the next one, or for hold seconds at most
        velocity = segment.velocity(now, lambda v: f.velocity(position, v))
        gap = rng.choice([0.005, 0.02, 0.04, 0.2])  # on time, late, very late (the stream stalls)
        position = position + velocity * min(gap, 0.05)
        now += gap
        travelled = (position - start) / (target - start)
        assert np.all(travelled <= 1.0 + 1e-9) and np.all(travelled >= -1e-12)
        assert np.allclose(segment.planned(now), position)
    assert np.allclose(position, target, atol=1e-3)  # and it gets there


# --- measured state (issue 11: a second joint_states publisher drove the fake arm 4.36 m out of its box) ---


def test_a_reading_further_than_the_arm_can_move_is_rejected_and_the_arm_holds() -> None:
    from jsrl_ros.real_arm.measured_state import IMPLAUSIBLE, Implausible

    safety = make_filter(deadman="off")
    home = np.array([0.55, 0.0, 0.25, 0.0])
    safety.measured.accept(home, now=0.0)
    # reach: 0.5 m/s x (0.01 s + measurement_timeout 0.2 s) + jump_tolerance 0.005 = 0.11 m
    with pytest.raises(Implausible):
        safety.measured.accept(home + [0.0, 0.0, 0.12, 0.0], now=0.01)
    safety.measured.accept(home + [0.004, 0, 0, 0], now=0.01)
    with pytest.raises(Implausible, match="axis 0 jumped"):
        safety.measured.accept(np.array([0.0, 0.0, 0.1, 0.0]), now=0.02)  # the forged reading of the review
    assert safety.measured.implausible == 2 and np.allclose(safety.measured.last, home + [0.004, 0, 0, 0])
    assert safety.stop_reason(0.03, False, None) == IMPLAUSIBLE
    for now in (0.03, 0.1, 0.2):  # real readings go on ...
        safety.measured.accept(home + [0.005, 0, 0, 0], now=now)
    assert safety.stop_reason(0.2, False, None) == IMPLAUSIBLE  # ... the hold lasts measurement_timeout
    safety.measured.accept(home + [0.005, 0, 0, 0], now=0.25)
    assert safety.stop_reason(0.25, False, None) is None


def test_stale_readings_hold_the_arm_until_they_resume() -> None:
    from jsrl_ros.real_arm.measured_state import STALE_READINGS

    safety = make_filter(deadman="off")
    safety.measured.accept(np.array([0.55, 0.0, 0.25, 0.0]), now=1.0)
    assert safety.stop_reason(1.1, False, None) is None
    assert safety.stop_reason(1.3, False, None) == STALE_READINGS
    safety.measured.accept(np.array([0.55, 0.0, 0.25, 0.0]), now=1.31)
    assert safety.stop_reason(1.32, False, None) is None
    assert safety.counts[f"{STALE_READINGS}_stops"] == 1


def test_a_move_that_ends_away_from_its_target_latches_a_hold_until_cleared() -> None:
    from jsrl_ros.real_arm.measured_state import TRACKING

    safety = make_filter(deadman="off")
    target = np.array([0.6, 0.0, 0.2, 0.0])
    assert safety.measured.check_tracking(target, target + [0.01, -0.01, 0.0, 0.1])  # within tolerance
    safety.measured.accept(target, now=0.0)
    assert not safety.measured.check_tracking(target, target + [0.0, 0.0, 0.05, 0.0])
    assert "axis 2" in safety.measured.tracking_fault and safety.measured.tracking_faults == 1
    assert safety.stop_reason(0.05, False, None) == TRACKING
    assert safety.stop_reason(0.1, False, None) == TRACKING  # latched
    assert safety.clear_estop() and safety.stop_reason(0.1, False, None) is None
