"""The real-arm bridge's episode cycle: home, the operator's go-ahead, steps, the grasp attempt (no rclpy).

Phases: WAIT for the operator (``jsrl/reset``; skipped with ``auto_confirm``), HOMING, OBSERVE
(waiting for sensor data newer than the step's motion), ACT (waiting for the policy's action),
MOVE (one control period), CLOSE and LIFT (the grasp attempt, which ends the episode).

The episode's end (its last outcome and final observation) is held and sent when the next
episode begins, after the arm went home and the operator confirmed the scene is reset, so a
human label given meanwhile lands in the episode. ``jsrl/reset`` during an episode, an e-stop
or a deactivation abandon it: no outcome, which the recorder reads as a reset.

Effects go through :class:`CycleOutputs` (the node publishes them); every motion passes the
config's :class:`jsrl_ros.real_arm.safety.SafetyFilter`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np
from builtin_interfaces.msg import Time

from jsrl_ros.contract import topics
from jsrl_ros.contract.step_clock import stamp_key
from jsrl_ros.real_arm.grasp_outcomes import GraspOutcomes
from jsrl_ros.real_arm.motion import ArmMotion, Command
from jsrl_ros.real_arm.safety import WATCHDOG
from jsrl_ros.real_arm.sensors import ArmSensors
from jsrl_ros.real_arm.task import proprio, step_delta

if TYPE_CHECKING:
    from jsrl_ros.real_arm.config import RealArmConfig

WAIT, HOMING, OBSERVE, ACT, MOVE, CLOSE, LIFT = "wait", "homing", "observe", "act", "move", "close", "lift"
EPISODE = "episode"  # what a WAIT may lead to besides HOMING: the next episode
IN_EPISODE = (OBSERVE, ACT, MOVE, CLOSE, LIFT)


@dataclass
class Observation:
    """The messages of one step, all stamped ``stamp``: the outcome (``jsrl/step``; None on an episode's
    first step), the camera frame to re-stamp (None without a camera) and the proprio vector."""

    stamp: Time
    outcome: list[float] | None
    frame: Any
    proprio: np.ndarray


class CycleOutputs(Protocol):
    def publish_gripper(self, command: Sequence[float]) -> None: ...

    def publish_command(self, command: Command, now: float) -> None: ...

    def publish_observation(self, observation: Observation) -> None: ...


class Log(Protocol):
    def info(self, message: str) -> Any: ...

    def warning(self, message: str) -> Any: ...


class GraspCycle:
    """The phase machine. Times are seconds on the node's clock, passed in as ``now``."""

    def __init__(self, cfg: RealArmConfig, sensors: ArmSensors, motion: ArmMotion, out: CycleOutputs,
                 log: Log) -> None:
        self.cfg, self.safety = cfg, cfg.safety
        self.sensors, self.motion, self.out, self.log = sensors, motion, out, log
        self.outcomes = GraspOutcomes(cfg.first_episode, cfg.max_steps, cfg.detector, cfg.reward_source)
        self.phase, self.after_wait = WAIT, HOMING
        self.deadline = 0.0  # when the MOVE, CLOSE or LIFT phase ends
        self.policy_since: float | None = None  # when the policy's turn began (the watchdog's start)
        self.capture_after = 0.0  # the observation needs sensor data newer than this
        self.final = False  # the observation being captured ends the episode
        self.held_end: Observation | None = None  # the ended episode's final observation, sent when the next begins
        self.current: Observation | None = None  # the observation the policy must answer
        self.policy_move = False  # the step's motion is the policy's move (checked against the measurement)
        self.current_key = self.finished_key = -1  # stamp keys of that one and of the last episode's end
        self.last_publish = 0.0
        self.owner = ""  # who controls the arm (jsrl/control_owner): the deadman may apply to the guide only
        self.stale = self.republished = 0  # actions for another step; observations re-sent by the watchdog

    # --- the node's events -------------------------------------------------------------

    def start(self, now: float) -> None:
        """The bridge became active: home the arm (after the operator's go-ahead)."""
        self._wait_then(HOMING, now)

    def halt(self, why: str, now: float) -> None:
        """Stop the arm now (e-stop, deactivation) and abandon the episode; the next step is homing."""
        self.stop_arm(now)
        self._abandon(why)
        self.phase, self.after_wait = WAIT, HOMING

    def operator_reset(self, now: float) -> tuple[bool, str]:
        """``jsrl/reset``: end the episode now, or (while waiting) confirm the scene is ready."""
        if self.safety.estop_latched:
            return False, "the e-stop is latched: clear it first (safety/clear_estop)"
        if self.phase == WAIT:
            message = f"confirmed: {self.after_wait}"
            self._continue_after_wait(now)
            return True, message
        if self.phase in IN_EPISODE:
            self._abandon(topics.RESET)
            self.after_wait = HOMING
            self._continue_after_wait(now)  # the operator asked: home now
            return True, f"episode {self.outcomes.episode} ended at step {self.outcomes.t}; homing"
        return True, "already homing"

    def estop_cleared(self, now: float) -> None:
        if self.phase == WAIT and self.cfg.auto_confirm:
            self._continue_after_wait(now)

    def stop_reason(self, now: float) -> str | None:
        """Why motion must stop now (the safety filter's rules), or None."""
        watched = self.policy_since if self.phase in (ACT, MOVE) else None
        return self.safety.stop_reason(now, self.owner == "guide", watched)

    def on_action(self, key: int, values: np.ndarray, now: float) -> None:
        """A valid, clipped action stamped ``key`` (stamp_key): a motion for one control period, or the
        grasp attempt (``gripper > 0``). While a stop holds, the step passes without motion (as the
        sim's idle human guide)."""
        if key == self.finished_key:
            return  # an answer to an episode's final observation: moot
        if self.phase != ACT or key != self.current_key:
            self.stale += 1
            return
        self.safety.feed(now)
        reason = self.stop_reason(now)
        position = self.sensors.position()
        self.motion.cancel()
        if values[-1] > 0 and reason is None:
            self.out.publish_gripper(self.cfg.gripper_close)
            self.phase, self.deadline = CLOSE, now + self.cfg.close_time
        else:
            if reason is None and position is not None:
                delta = step_delta(values[:-1], self.cfg.action_scale)
                self._move_to(position, self.safety.target(position, delta), now)
                self.policy_move = True
            self.phase, self.deadline = MOVE, now + self.cfg.dt
        self.command(now)

    def advance(self, now: float, reason: str | None) -> None:
        """One control tick of the phase machine (not while the e-stop holds)."""
        position, cfg = self.sensors.position(), self.cfg
        if self.phase == HOMING and position is not None:
            if np.all(np.abs(position - cfg.home) <= cfg.home_tolerance):
                self.motion.cancel()
                self._wait_then(EPISODE, now)
            elif self.motion.settled(now) and reason is None:
                self._move_to(position, cfg.home.copy(), now)  # (again, if the last move fell short or was stopped)
        elif self.phase == OBSERVE:
            self._try_capture(now)
        elif self.phase == ACT and reason == WATCHDOG \
                and now - self.last_publish >= self.safety.limits.watchdog_timeout:
            self.republished += 1
            self._send(now)
        elif self.phase == MOVE and now >= self.deadline:
            self._capture(now, final=self.outcomes.moved())
        elif self.phase == CLOSE and now >= self.deadline and position is not None and reason is None:
            lift = position.copy()
            lift[cfg.lift_axis] = cfg.lift_to
            self._move_to(position, self.safety.inside(lift), now)
            self.phase, self.deadline = LIFT, now + cfg.lift_time
        elif self.phase == LIFT and position is not None and (
                now >= self.deadline or abs(position[cfg.lift_axis] - cfg.lift_to) <= cfg.home_tolerance):
            self.outcomes.attempted(self.sensors.opening())
            self._capture(now, final=True)

    def command(self, now: float) -> None:
        """The arm's command of this tick (safety checked now)."""
        self._emit(self.motion.tick(self.sensors.position(), self.stop_reason(now), now), now)

    def stop_arm(self, now: float) -> None:
        """Zero velocity (twist) or hold where it is (joint trajectory), now."""
        self._emit(self.motion.stop(self.sensors.position()), now)

    # --- episodes --------------------------------------------------------------------------

    def _wait_then(self, next_phase: str, now: float) -> None:
        self.phase, self.after_wait = WAIT, next_phase
        if self.cfg.auto_confirm and not self.safety.estop_latched:
            self._continue_after_wait(now)
        else:
            what = "home the arm" if next_phase == HOMING else "start the next episode (is the scene reset?)"
            self.log.info(f"waiting for the operator: jsrl/reset (teleop key r) to {what}")

    def _continue_after_wait(self, now: float) -> None:
        if self.after_wait == HOMING:
            self.phase = HOMING
            self.motion.cancel()
            self.out.publish_gripper(self.cfg.gripper_open)
        else:
            self._begin_episode(now)

    def _begin_episode(self, now: float) -> None:
        if self.held_end is not None:
            self._release_end()
        self.outcomes.begin()
        self._capture(now, final=False)

    def _release_end(self) -> None:
        """The ended episode's outcome (now with any human label) and final observation."""
        row = self.outcomes.end_row()
        if row is not None:
            self.held_end.outcome = row
        self.out.publish_observation(self.held_end)
        self.held_end = None

    def _abandon(self, why: str) -> None:
        """End the episode in progress without an outcome. An episode that already ended keeps its held
        end: it goes out when the next one begins."""
        if self.phase in IN_EPISODE:
            self.log.warning(f"episode {self.outcomes.episode} abandoned at step {self.outcomes.t}: {why}")
            self.finished_key = self.current_key
        self.outcomes.forget_pending()
        self.policy_since = None
        self.motion.cancel()

    def _capture(self, now: float, final: bool) -> None:
        self.phase, self.capture_after, self.final = OBSERVE, now, final
        self._try_capture(now)

    def _try_capture(self, now: float) -> None:
        if not self.sensors.fresh_since(self.capture_after):
            return
        self._check_tracking(now)
        cfg, outcomes = self.cfg, self.outcomes
        stamp = cfg.clock.stamp(outcomes.episode, outcomes.t)
        pose = self.sensors.grasp_pose()
        observation = Observation(
            stamp, outcomes.take_row(self.final), self.sensors.frame if self.sensors.uses_camera else None,
            proprio(pose[2], pose[3], self.sensors.opening(), outcomes.t, cfg.max_steps, cfg.floor_z,
                    cfg.max_opening))
        if self.final:
            self.held_end, self.finished_key = observation, stamp_key(stamp)
            self.out.publish_gripper(cfg.gripper_open)
            self.policy_since = None
            self.after_wait = HOMING
            self._continue_after_wait(now)  # the episode is over: home on our own, then wait for the operator
            return
        self.current, self.current_key = observation, stamp_key(stamp)
        self.phase, self.policy_since = ACT, now
        self._send(now)

    def _check_tracking(self, now: float) -> None:
        """After a policy move that ran its course (no stop cancelled it), the arm is where its commands put it."""
        commanded = self.motion.commanded(now) if self.policy_move else None
        self.policy_move = False
        if commanded is not None and not self.safety.measured.check_tracking(commanded, self.sensors.position()):
            self.log.warning(f"HOLD until safety/clear_estop: {self.safety.measured.tracking_fault}")

    def _send(self, now: float) -> None:
        self.out.publish_observation(self.current)
        self.last_publish = now

    def _move_to(self, position: np.ndarray, target: np.ndarray, now: float) -> None:
        self._emit(self.motion.move_to(position, target, now), now)

    def _emit(self, command: Command | None, now: float) -> None:
        if command is not None:
            self.out.publish_command(command, now)
