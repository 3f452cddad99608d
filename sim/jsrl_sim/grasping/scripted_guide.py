"""A scripted top-down grasp policy that reads the simulator's privileged state.

It ignores its observation and asks the env (``GraspEnv.privileged_state``) where the
objects are: this is the "hand-written controller with access to sim state" kind of
JSRL guide. Each step it re-plans in closed loop:

1. pick an object once per episode: the target (instance task), else the nearest object
   narrow enough for the open gripper (the narrowest one if none is);
2. move over the object's footprint centre and turn the fingers across its narrowest
   horizontal axis, staying above the object until aligned in x, y;
3. descend to grasp height, then close (the env then lifts). On the last step it closes
   wherever it is, which is better than a certain zero.

It is not perfect (the footprint centre and narrowest axis of an irregular object are not
always a stable grasp, and some objects are too wide for the fingers), but it sees the
simulator's truth, so it is far better than the guides JSRL is meant for. Gaussian action
``noise`` makes it worse in a controlled way (success rates per noise level: docs/grasping_env.md).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from jsrl_sim.grasping.env import GraspEnv, PrivilegedState
from jsrl_sim.grasping.geometry import wrap_half_pi
from jsrl_sim.grasping.scene import YAW_LIMIT
from jsrl_sim.grasping.slots import MAX_GRASP_WIDTH

HOVER_MARGIN = 0.04  # fingertips stay this far above the object's top until aligned (m)
ALIGNED_XY = 0.01  # m
ALIGNED_Z = 0.01  # m
ALIGNED_YAW = 0.15  # rad
FLOOR_CLEARANCE = 0.012  # lowest grasp point above the floor: the fingertips reach ~6 mm below it
PAD_DEPTH = 0.015  # grasp point this far below the object's top, for a firm pad contact
GAIN = 1.3  # the arm achieves ~80-90% of a commanded step; overshoot the command a little


class ScriptedGraspGuide:
    """``act(obs) -> action`` for ``GraspEnv`` from privileged state; ``reset()`` per episode."""

    def __init__(self, env: GraspEnv, noise: float = 0.0, seed: int | None = None) -> None:
        if not noise >= 0.0:
            raise ValueError(f"ScriptedGraspGuide: noise must be >= 0, got {noise!r}")
        self.env, self.noise = env, float(noise)
        self.rng = np.random.default_rng(seed)
        self._object = -1

    def reset(self) -> None:
        self._object = -1

    def act(self, obs: object) -> np.ndarray:
        state = self.env.privileged_state()
        if self._object < 0:
            self._object = self._choose(state)
        action = self._approach(state, self._object)
        if self.noise > 0.0:
            action[:4] += self.rng.normal(0.0, self.noise, size=4)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def _choose(self, state: PrivilegedState) -> int:
        if state.target >= 0:
            return state.target
        geometry = state.geometry
        distance = np.linalg.norm(geometry.centre[:, :2] - state.ee_position[:2], axis=1)
        graspable = geometry.width <= MAX_GRASP_WIDTH
        if not graspable.any():
            return int(np.argmin(geometry.width))
        return int(np.argmin(np.where(graspable, distance, np.inf)))

    def _approach(self, state: PrivilegedState, k: int) -> np.ndarray:
        cfg, geometry = self.env.config, state.geometry
        error_xy = geometry.centre[k, :2] - state.ee_position[:2]
        yaw_goal = state.ee_yaw + wrap_half_pi(geometry.yaw[k] - state.ee_yaw)
        if abs(yaw_goal) > YAW_LIMIT:  # the short way round leaves the wrist's range: go the long way
            yaw_goal = float(geometry.yaw[k])
        error_yaw = yaw_goal - state.ee_yaw
        grasp_z = max(state.floor_z + FLOOR_CLEARANCE, min(geometry.centre[k, 2], geometry.top[k] - PAD_DEPTH))
        aligned_xy = np.linalg.norm(error_xy) < ALIGNED_XY
        z_goal = grasp_z if aligned_xy else max(grasp_z, geometry.top[k] + HOVER_MARGIN)
        error_z = z_goal - state.ee_position[2]
        ready = aligned_xy and abs(error_z) < ALIGNED_Z and abs(error_yaw) < ALIGNED_YAW
        if ready or state.steps_left <= 1:
            return np.array([0.0, 0.0, 0.0, 0.0, 1.0])
        move = GAIN * np.array([*error_xy, error_z]) / cfg.max_translation
        return np.array([*move, GAIN * error_yaw / cfg.max_rotation, -1.0])


def make_grasp_guide(env: gym.Env, noise: float = 0.0, seed: int | None = None) -> ScriptedGraspGuide:
    """Guide factory for config files (``target: jsrl_sim.grasping.scripted_guide:make_grasp_guide``)."""
    grasp_env = env.unwrapped
    if not isinstance(grasp_env, GraspEnv):
        raise TypeError(f"make_grasp_guide: needs a GraspEnv, got {type(grasp_env).__name__}")
    return ScriptedGraspGuide(grasp_env, noise=noise, seed=seed)
