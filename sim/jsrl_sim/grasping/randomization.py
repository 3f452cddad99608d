"""Domain randomisation for sim-to-real: visuals, camera, lighting and object dynamics.

Each switch is off by default (``GraspConfig.randomize_*``); when on, the quantity is
redrawn every episode from the env's seeded generator, so a seeded reset stays
reproducible. Ranges are chosen to stay physically plausible for a tabletop cell.
"""
from __future__ import annotations

import os

import numpy as np
import pybullet_data

from jsrl_sim.grasping.camera import DEFAULT_POSE, CameraPose, Lighting
from jsrl_sim.grasping.config import GraspConfig
from jsrl_sim.grasping.scene import TrayScene

EYE_JITTER = 0.03  # m, per axis
TARGET_JITTER = 0.02  # m, per axis
FOV_JITTER = 3.0  # degrees
FRICTION_RANGE = (0.5, 1.2)  # lateral friction coefficient of the objects
MASS_SCALE_RANGE = (0.5, 2.0)  # multiplies each object's URDF mass
TEXTURES = ("tray/tray.jpg", "checker_blue.png", "checker_grid.jpg", "table/table.png", "tex256.png")


class DomainRandomizer:
    """Applies the switched-on randomisations to a scene once per episode."""

    def __init__(self, scene: TrayScene, config: GraspConfig) -> None:
        self.scene, self.config = scene, config
        root = pybullet_data.getDataPath()
        self.textures = [scene.client.loadTexture(os.path.join(root, name)) for name in TEXTURES] \
            if config.randomize_colors else []

    def apply(self, rng: np.random.Generator) -> tuple[CameraPose, Lighting]:
        """Randomise the loaded objects and surroundings; returns this episode's camera and light."""
        if self.config.randomize_colors:
            self._colors(rng)
        if self.config.randomize_dynamics:
            self._dynamics(rng)
        pose = _jittered_pose(rng) if self.config.randomize_camera else DEFAULT_POSE
        lighting = _random_lighting(rng) if self.config.randomize_lighting else Lighting()
        return pose, lighting

    def _colors(self, rng: np.random.Generator) -> None:
        c, scene = self.scene.client, self.scene
        for body in scene.objects:
            c.changeVisualShape(body, -1, rgbaColor=[*rng.uniform(0.05, 1.0, size=3), 1.0])
        texture = self.textures[int(rng.integers(len(self.textures)))]
        c.changeVisualShape(scene.tray, -1, textureUniqueId=texture,
                            rgbaColor=[*rng.uniform(0.4, 1.0, size=3), 1.0])
        c.changeVisualShape(scene.plane, -1, rgbaColor=[*rng.uniform(0.2, 1.0, size=3), 1.0])

    def _dynamics(self, rng: np.random.Generator) -> None:
        c = self.scene.client
        for body in self.scene.objects:
            mass = c.getDynamicsInfo(body, -1)[0]
            c.changeDynamics(body, -1, lateralFriction=float(rng.uniform(*FRICTION_RANGE)),
                             mass=float(mass * rng.uniform(*MASS_SCALE_RANGE)))


def _jittered_pose(rng: np.random.Generator) -> CameraPose:
    eye = np.asarray(DEFAULT_POSE.eye) + rng.uniform(-EYE_JITTER, EYE_JITTER, size=3)
    target = np.asarray(DEFAULT_POSE.target) + rng.uniform(-TARGET_JITTER, TARGET_JITTER, size=3)
    fov = DEFAULT_POSE.fov + rng.uniform(-FOV_JITTER, FOV_JITTER)
    return CameraPose(eye=tuple(eye.tolist()), target=tuple(target.tolist()), fov=float(fov))


def _random_lighting(rng: np.random.Generator) -> Lighting:
    direction = rng.normal(size=3)
    direction[2] = abs(direction[2]) + 0.5  # light from above the table
    return Lighting(
        direction=tuple((direction / np.linalg.norm(direction)).tolist()),
        color=tuple(rng.uniform(0.7, 1.0, size=3).tolist()),
        ambient=float(rng.uniform(0.4, 0.8)),
        diffuse=float(rng.uniform(0.2, 0.6)),
        specular=float(rng.uniform(0.0, 0.3)),
    )
