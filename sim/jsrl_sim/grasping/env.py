"""``jsrl/Grasp-v0``: top-down grasping with a Franka Panda over a tray of objects.

One episode is one grasp attempt, as in QT-Opt's simulated bin: the policy moves the open
gripper for up to ``max_steps`` steps and ends the episode by closing it (gripper > 0),
which runs an automatic close-and-lift. Folding the lift into the env is what makes
15–20-step episodes feasible (a learned lift would need ~10 more steps of precise control);
a policy still has to decide where and when to close.

Action (Box [-1, 1]^5): dx, dy, dz (world frame, x ``max_translation`` m), dyaw
(x ``max_rotation`` rad; yaw is the fingers' closing direction, kept in [-pi/2, pi/2]) and
gripper (> 0: close and lift, ending the episode). Motions are relative to the gripper's
measured pose, so the observation is Markov even when the arm lags or is blocked.

Reward: 1 on the step an object ends up ``lift_height`` above the tray floor (for the
``instance`` task: the target object), else 0. The episode terminates on any lift or
grasp attempt; lifting a non-target in the instance task ends it with reward 0. Running
out of steps truncates it.

Observation, ``obs_mode="state"``: float32 vector, all lengths in metres, clipped to [-1, 1]:
  [0:3] grasp point relative to (tray centre x, y, floor z); [3] yaw / (pi/2);
  [4] finger opening / 0.08; [5] step / max_steps; then per object slot (8 each):
  footprint centre minus grasp point (3), sin and cos of 2 x (object's narrowest horizontal
  axis - gripper yaw) (2), width along that axis (1), top above the floor (1), is-target (1).
Slots are sorted (``slots.py``): the target, then objects the fingers can span, then nearest
first, so the object to grasp sits in slot 0 whatever the load order; only the instance task
sets an is-target flag.

Observation, ``obs_mode="image"``: Dict(image: uint8 (S, S, 3) from the fixed camera,
proprio: float32 [height above floor, yaw / (pi/2), opening / 0.08, step / max_steps,
target u, target v, has-target]), with (u, v) the target's centre projected into the image
([-1, 1], u right, v down) and zeros in the indiscriminate task.

``gui=True`` runs the simulation in pybullet's own window (needs a display) so a person can
watch it; observations and camera frames are the same as headless.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from jsrl_sim.grasping.camera import Camera, Lighting
from jsrl_sim.display import require_display
from jsrl_sim.grasping.config import GraspConfig, GraspConfigError, make_config
from jsrl_sim.grasping.geometry import GraspGeometry, grasp_geometry
from jsrl_sim.grasping.objects import object_specs
from jsrl_sim.grasping.randomization import DomainRandomizer
from jsrl_sim.grasping.slots import slot_order
from jsrl_sim.grasping.scene import (FINGER_OPEN, MAX_HEIGHT, MIN_HEIGHT, START_HEIGHT, START_XY_HALF, TRAY_XY,
                                     WORKSPACE_HALF, YAW_LIMIT, TrayScene)

ROBOT_DIM = 6
SLOT_DIM = 8
PROPRIO_DIM = 7
MAX_RESET_TRIES = 10


@dataclass(frozen=True)
class PrivilegedState:
    """Simulator truth for scripted guides and tests; a policy never sees this."""

    ee_position: np.ndarray  # (3,) grasp point, world (m)
    ee_yaw: float  # fingers' closing direction (rad)
    gripper_opening: float  # m
    floor_z: float  # world z of the tray floor
    object_positions: np.ndarray  # (N, 3) world
    object_quats: np.ndarray  # (N, 4) xyzw
    geometry: GraspGeometry  # per-object top-down grasp features
    target: int  # object slot to lift, -1 in the indiscriminate task
    steps_left: int


class GraspEnv(gym.Env):
    """Panda + tray grasping in a private pybullet DIRECT client, or a GUI one (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, config: GraspConfig | Mapping[str, Any] | None = None,
                 render_mode: str | None = None, gui: bool = False, **overrides: Any) -> None:
        if isinstance(config, GraspConfig):
            self.config = make_config(overrides, base=config)
        else:
            self.config = make_config({**dict(config or {}), **overrides})
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"GraspEnv: render_mode must be None or 'rgb_array', got {render_mode!r}")
        if gui:
            require_display("GraspEnv", GraspConfigError)
        self.render_mode = render_mode
        cfg = self.config
        self._specs = object_specs(cfg.object_set)
        self.scene = TrayScene(gui)
        self.camera = Camera(self.scene.client, cfg.image_size)
        self.randomizer = DomainRandomizer(self.scene, cfg)
        self.lighting = Lighting()
        self.action_space = spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        if cfg.obs_mode == "state":
            self.observation_space = spaces.Box(-1.0, 1.0, shape=(ROBOT_DIM + SLOT_DIM * cfg.num_objects,),
                                                dtype=np.float32)
        else:
            self.observation_space = spaces.Dict({
                "image": spaces.Box(0, 255, shape=(cfg.image_size, cfg.image_size, 3), dtype=np.uint8),
                "proprio": spaces.Box(-1.0, 1.0, shape=(PROPRIO_DIM,), dtype=np.float32),
            })
        self._low = np.array([*(TRAY_XY - WORKSPACE_HALF), self.scene.floor_z + MIN_HEIGHT])
        self._high = np.array([*(TRAY_XY + WORKSPACE_HALF), self.scene.floor_z + MAX_HEIGHT])
        self._target = -1
        self._t = 0
        self._done = True
        self.physics_errors = 0  # steps or resets whose simulated state was not finite (see _outputs)

    # --- gymnasium API -----------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        for _ in range(MAX_RESET_TRIES):
            obs, info = self._new_scene()
            if not info["physics_error"]:
                return obs, info
            self.physics_errors += 1  # a scene that blew up while settling: draw another from the same stream
        raise RuntimeError(f"GraspEnv: {MAX_RESET_TRIES} scenes in a row gave a non-finite state; pybullet is broken")

    def _new_scene(self) -> tuple[np.ndarray | dict[str, np.ndarray], dict[str, Any]]:
        rng, cfg = self.np_random, self.config
        chosen = rng.choice(len(self._specs), size=cfg.num_objects, replace=cfg.num_objects > len(self._specs))
        self.scene.load_objects([self._specs[i] for i in chosen], rng)
        pose, self.lighting = self.randomizer.apply(rng)
        self.camera.set_pose(pose)
        start_xy = TRAY_XY + rng.uniform(-START_XY_HALF, START_XY_HALF, size=2)
        self.scene.reset_robot(start_xy, START_HEIGHT, float(rng.uniform(-YAW_LIMIT, YAW_LIMIT)))
        self.scene.settle()
        self._target = int(rng.integers(cfg.num_objects)) if cfg.task == "instance" else -1
        self._t, self._done = 0, False
        return self._outputs(success=False, attempted=False)

    def step(self, action: np.ndarray):
        if self._done:
            raise RuntimeError("GraspEnv: episode is over, call reset()")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (5,) or not np.all(np.isfinite(action)):
            raise ValueError(f"GraspEnv: action must be 5 finite numbers, got {action!r}")
        action = np.clip(action, -1.0, 1.0)
        self._t += 1
        attempted = bool(action[4] > 0.0)
        if attempted:
            self.scene.close_and_lift()
        else:
            position, yaw = self.scene.ee_pose()
            target = np.clip(position + action[:3] * self.config.max_translation, self._low, self._high)
            self.scene.move(target, float(np.clip(yaw + action[3] * self.config.max_rotation, -YAW_LIMIT, YAW_LIMIT)))
        lifted = self.scene.object_poses()[0][:, 2] - self.scene.floor_z > self.config.lift_height
        success = bool(lifted[self._target]) if self._target >= 0 else bool(lifted.any())
        terminated = attempted or bool(lifted.any())
        truncated = not terminated and self._t >= self.config.max_steps
        obs, info = self._outputs(success, attempted)
        if info["physics_error"]:  # the simulation produced NaN/inf: end the episode, never pass it on
            self.physics_errors += 1
            truncated = not terminated
        self._done = terminated or truncated
        return obs, float(success), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.camera.render(self.lighting)

    def close(self) -> None:
        self.scene.close()

    # --- privileged access for scripted guides and tests --------------------------------

    def privileged_state(self) -> PrivilegedState:
        """The simulator's truth about robot and objects (for scripted guides, never policies)."""
        position, yaw = self.scene.ee_pose()
        positions, quats = self.scene.object_poses()
        return PrivilegedState(
            ee_position=position, ee_yaw=yaw, gripper_opening=self.scene.gripper_opening(),
            floor_z=self.scene.floor_z, object_positions=positions, object_quats=quats,
            geometry=grasp_geometry(self.scene.local_points, positions, quats),
            target=self._target, steps_left=self.config.max_steps - self._t)

    # --- internals -----------------------------------------------------------------------

    def _outputs(self, success: bool, attempted: bool) -> tuple[np.ndarray | dict[str, np.ndarray], dict[str, Any]]:
        """Observation and info from one read of the simulator state.

        PyBullet very rarely returns a non-finite pose (an object blown up by a contact); the
        observation's entries are then zeroed where not finite and ``info["physics_error"]`` is
        set, so a NaN never reaches a policy (whose action would then be NaN too)."""
        obs, info = self._read(success, attempted)
        vectors = obs if isinstance(obs, np.ndarray) else obs["proprio"]
        info["physics_error"] = not bool(np.all(np.isfinite(vectors)))
        if info["physics_error"]:
            np.nan_to_num(vectors, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return obs, info

    def _read(self, success: bool, attempted: bool) -> tuple[np.ndarray | dict[str, np.ndarray], dict[str, Any]]:
        position, yaw = self.scene.ee_pose()
        positions, quats = self.scene.object_poses()
        info = {"success": success, "grasp_attempted": attempted, "target": self._target,
                "object_positions": positions.astype(np.float32), "ee_position": position.astype(np.float32)}
        floor = self.scene.floor_z
        robot = [position[0] - TRAY_XY[0], position[1] - TRAY_XY[1], position[2] - floor, yaw / YAW_LIMIT,
                 self.scene.gripper_opening() / (2 * FINGER_OPEN), self._t / self.config.max_steps]
        if self.config.obs_mode == "image":
            target = [0.0, 0.0, 0.0]
            if self._target >= 0:
                target = [*self.camera.project(positions[self._target][None, :])[0], 1.0]
            proprio = np.clip(np.array(robot[2:] + target, np.float32), -1.0, 1.0)
            return {"image": self.camera.render(self.lighting), "proprio": proprio}, info
        geometry = grasp_geometry(self.scene.local_points, positions, quats)
        angle = 2.0 * (geometry.yaw - yaw)
        slots = np.column_stack([geometry.centre - position, np.sin(angle), np.cos(angle), geometry.width,
                                 geometry.top - floor, np.arange(len(positions)) == self._target])
        if self.config.sort_slots:
            slots = slots[slot_order(slots)]
        return np.clip(np.concatenate([robot, slots.ravel()]), -1.0, 1.0).astype(np.float32), info
