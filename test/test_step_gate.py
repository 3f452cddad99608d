"""The edge's stamp rules (jsrl_ros/runtime/step_gate.py) on a fake clock: what one forged stamp can and cannot do."""
from __future__ import annotations

import pytest
from builtin_interfaces.msg import Time

from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.runtime.step_gate import FUTURE, MALFORMED, STALE, Rejected, StepGate

CLOCK = StepClock(0.1)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def kind(gate: StepGate, stamp: Time) -> str:
    with pytest.raises(Rejected) as error:
        gate.check(stamp)
    return error.value.kind


def test_before_any_episode_every_valid_step_is_accepted_and_bad_stamps_are_malformed() -> None:
    gate = StepGate(CLOCK)
    assert gate.check(CLOCK.stamp(7, 3)) == (7, 3)  # a node that starts mid-run follows the bridge
    assert kind(gate, Time(sec=-5)) == MALFORMED
    assert kind(gate, Time(sec=3, nanosec=123)) == MALFORMED  # off the step grid
    assert gate.check(CLOCK.stamp(0, CLOCK.max_steps - 1))[1] == CLOCK.max_steps - 1  # the clock's last step
    assert StepGate(CLOCK, max_steps=5).check(CLOCK.stamp(0, 5)) == (0, 5)
    assert kind(StepGate(CLOCK, max_steps=5), CLOCK.stamp(0, 6)) == MALFORMED


def test_in_an_episode_only_its_next_step_or_the_next_episodes_first_pass() -> None:
    gate = StepGate(CLOCK)
    gate.enter(4, 2)
    assert gate.check(CLOCK.stamp(4, 2)) == (4, 2)  # a re-send
    assert gate.check(CLOCK.stamp(4, 3)) == (4, 3)
    assert gate.check(CLOCK.stamp(4, 0)) == (4, 0)  # older steps of the episode: the node's own business
    assert gate.check(CLOCK.stamp(5, 0)) == (5, 0)
    assert kind(gate, CLOCK.stamp(4, 9)) == FUTURE  # ahead of the bridge's cadence
    assert kind(gate, CLOCK.stamp(54, 0)) == FUTURE  # episode e + 50
    assert kind(gate, CLOCK.stamp(5, 1)) == FUTURE  # the next episode starts at step 0
    assert kind(gate, CLOCK.stamp(3, 9)) == STALE


def test_without_step_tracking_any_step_of_the_episode_passes() -> None:
    gate = StepGate(CLOCK)
    gate.enter(4)
    assert gate.check(CLOCK.stamp(4, 9)) == (4, 9)
    assert kind(gate, CLOCK.stamp(6, 0)) == FUTURE


def test_a_future_episode_is_followed_only_when_it_keeps_arriving() -> None:
    now = FakeTime()
    gate = StepGate(CLOCK, resync_s=5.0, gap_s=1.0, now=now)
    gate.enter(4, 2)
    for t in range(0, 40):  # a forged stamp now and then, more than gap_s apart: never followed
        now.now = 2.0 * t
        assert kind(gate, CLOCK.stamp(20, 3)) == FUTURE
    for t in range(11):  # a restarted bridge re-sending its step twice a second
        now.now = 100.0 + 0.5 * t
        try:
            accepted = gate.check(CLOCK.stamp(20, 3))
        except Rejected:
            accepted = None
    assert accepted == (20, 3) and now.now - 100.0 >= 5.0


def test_after_a_forged_next_episode_the_real_one_is_followed_back_once_it_keeps_arriving() -> None:
    now = FakeTime()
    gate = StepGate(CLOCK, resync_s=5.0, gap_s=1.0, now=now)
    gate.enter(4, 2)
    gate.enter(5, -1)  # a forged step 0 of episode 5 was acted on
    assert kind(gate, CLOCK.stamp(4, 3)) == STALE
    for t in range(11):  # the bridge re-sends its unanswered step of episode 4
        now.now = 0.5 * t
        try:
            accepted = gate.check(CLOCK.stamp(4, 3))
        except Rejected:
            accepted = None
    assert accepted == (4, 3)
