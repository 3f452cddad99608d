"""A scripted trot for the gymnasium Ant: walk in any body-frame direction without turning.

Why this shape (measured on MuJoCo 4 / gymnasium-robotics AntMaze v5, see docs/antmaze.md):
- Diagonal leg pairs (1, 3) and (2, 4) swing half a cycle apart; each hip sweeps along its
  own stroke direction (the tangent of the leg's mounting angle) with an amplitude equal to the
  projection of the wanted direction on that stroke, so the ant walks sideways or diagonally
  as easily as forwards ("holonomic") instead of turning first.
- Each ankle lifts its foot while the hip swings forward and presses it down while the hip
  pushes back. The lift must lag the hip by about 1 rad (1.0-1.2): with no lag, stance and swing
  swap under the motors' delay and the ant walks backwards.
- Joints track the targets with a PD law at the 20 Hz control rate; the gains must stay low
  (kp around 2, kd around 0.15) because high gains at 20 Hz overshoot and flip the ant.
- Hip targets stay inside the joint range: driving hips into their stops made ~2 m/s gaits
  that flipped about once per 10k steps of random direction changes; the defaults were tuned
  for speed under that stress test with zero flips (docs/antmaze.md).
- ``direction`` may be shorter than 1: it scales every stride, i.e. the speed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Leg i (1..4) is mounted at these body-frame angles (ant.xml: front-left, front-right, back, right-back).
LEG_ANGLES = np.deg2rad([45.0, 135.0, 225.0, 315.0])
# A positive hip angle turns the leg counter-clockwise: the foot moves along the tangent.
STROKE_DIRECTIONS = np.stack([-np.sin(LEG_ANGLES), np.cos(LEG_ANGLES)], axis=1)
# Ankles 1 and 4 live in [30, 70] deg, ankles 2 and 3 in [-70, -30] deg; a larger |angle| lowers the foot.
ANKLE_SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
# Diagonal pairs (1, 3) and (2, 4) half a cycle apart.
PHASE_OFFSETS = np.array([0.0, np.pi, 0.0, np.pi])
# The env's action is ordered [hip_4, ankle_4, hip_1, ankle_1, hip_2, ankle_2, hip_3, ankle_3];
# these index (hips, ankles) of legs 1..4 in it.
ACTION_HIPS = np.array([2, 4, 6, 0])
ACTION_ANKLES = np.array([3, 5, 7, 1])
CONTROL_DT = 0.05  # seconds per env step: timestep 0.01 x frame_skip 5


@dataclass(frozen=True)
class GaitParams:
    """Trot shape and PD gains; defaults are the tuned values reported in docs/antmaze.md."""

    frequency: float = 2.56  # Hz
    hip_amplitude: float = 0.51  # rad at full projection on a leg's stroke (the hips stop at +-0.52)
    ankle_mid: float = 0.54  # rad, |ankle| around which the foot lifts and presses (joint range 0.52-1.22)
    ankle_amplitude: float = 0.18  # rad
    ankle_lag: float = 1.03  # rad the foot lift lags the hip sweep
    kp: float = 1.98
    kd: float = 0.15


class TrotGait:
    """Turns a wanted walking direction (body frame) plus joint state into Ant torques."""

    def __init__(self, params: GaitParams = GaitParams()) -> None:
        self.params = params
        self._phase = 0.0

    def reset(self) -> None:
        """Restart the cycle so every episode's gait is the same given the same states."""
        self._phase = 0.0

    def targets(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hip and ankle angle targets (legs 1..4) for this step; ``direction`` is a body-frame 2-vector."""
        p = self.params
        phases = self._phase + PHASE_OFFSETS
        amplitudes = p.hip_amplitude * (STROKE_DIRECTIONS @ direction)
        hips = amplitudes * np.cos(phases)
        ankles = ANKLE_SIGNS * (p.ankle_mid + p.ankle_amplitude * np.sin(phases - p.ankle_lag))
        return hips, ankles

    def act(self, direction: np.ndarray, joint_pos: np.ndarray, joint_vel: np.ndarray) -> np.ndarray:
        """One 8-dim action in the env's order; joints are ``qpos[7:15]`` / ``qvel[6:14]`` (hip1, ankle1, ...)."""
        p = self.params
        hips, ankles = self.targets(np.asarray(direction, dtype=np.float64))
        target = np.empty(8)
        target[0::2], target[1::2] = hips, ankles
        torque = np.clip(p.kp * (target - joint_pos) - p.kd * joint_vel, -1.0, 1.0)
        action = np.empty(8, dtype=np.float32)
        action[ACTION_HIPS] = torque[0::2]
        action[ACTION_ANKLES] = torque[1::2]
        self._phase = (self._phase + 2.0 * np.pi * p.frequency * CONTROL_DT) % (2.0 * np.pi)
        return action
