"""The fixed over-the-shoulder RGB camera, rendered with pybullet's TinyRenderer.

TinyRenderer is the CPU rasteriser that works in ``p.DIRECT`` (no display, no GPU), so
image observations are reproducible bit for bit on any machine. The camera also projects
world points to image coordinates, which is how the instance task tells an image policy
which object is the target (see env.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p
from pybullet_utils.bullet_client import BulletClient

NEAR, FAR = 0.1, 2.0


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is (world, m) and what it looks at; ``fov`` is vertical, in degrees."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov: float


@dataclass(frozen=True)
class Lighting:
    """TinyRenderer's light: a directional light plus ambient/diffuse/specular weights."""

    direction: tuple[float, float, float] = (0.4, -0.3, 1.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.4
    specular: float = 0.1


# Behind the robot's base, above its right shoulder, looking down into the tray.
DEFAULT_POSE = CameraPose(eye=(0.05, -0.35, 0.6), target=(0.55, 0.0, 0.0), fov=30.0)


class Camera:
    """Renders (S, S, 3) uint8 frames of one scene from a settable pose."""

    def __init__(self, client: BulletClient, size: int, pose: CameraPose = DEFAULT_POSE) -> None:
        self.client, self.size = client, size
        self.set_pose(pose)

    def set_pose(self, pose: CameraPose) -> None:
        self.pose = pose
        self._view = self.client.computeViewMatrix(pose.eye, pose.target, [0.0, 0.0, 1.0])
        self._proj = self.client.computeProjectionMatrixFOV(pose.fov, 1.0, NEAR, FAR)
        # pybullet's matrices are column-major flat tuples
        self._world_to_clip = np.asarray(self._proj).reshape(4, 4).T @ np.asarray(self._view).reshape(4, 4).T

    def render(self, lighting: Lighting) -> np.ndarray:
        """One RGB frame (S, S, 3) uint8."""
        rgba = self.client.getCameraImage(
            self.size, self.size, self._view, self._proj, renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK, shadow=1, lightDirection=lighting.direction,
            lightColor=lighting.color, lightAmbientCoeff=lighting.ambient,
            lightDiffuseCoeff=lighting.diffuse, lightSpecularCoeff=lighting.specular)[2]
        return np.ascontiguousarray(np.asarray(rgba, dtype=np.uint8).reshape(self.size, self.size, 4)[..., :3])

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> image coordinates (N, 2): u right, v down, [-1, 1] in view."""
        clip = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ self._world_to_clip.T
        ndc = clip[:, :2] / clip[:, 3:4]
        return np.stack([ndc[:, 0], -ndc[:, 1]], axis=1)
