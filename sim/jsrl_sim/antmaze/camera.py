"""A top-down offscreen camera over the whole maze, cheap enough to run every step.

MuJoCo picks its OpenGL backend once, when ``mujoco`` is first imported, from ``MUJOCO_GL``.
This module defaults it to ``egl`` (headless; measured working on the CPU-only dev machine
through Mesa, while ``osmesa`` lacks its library there), so import it before anything that
imports ``mujoco``. Shadows and reflections are switched off: they cost ~10x at 64 px.
"""
from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402  (must follow the MUJOCO_GL default above)
import numpy as np  # noqa: E402


class TopDownCamera:
    """Renders (S, S, 3) uint8 frames of ``model`` looking straight down on a square ``extent`` (m)."""

    def __init__(self, model: mujoco.MjModel, size: int, extent: float) -> None:
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
        model.vis.global_.offheight = max(model.vis.global_.offheight, size)
        try:
            self._renderer = mujoco.Renderer(model, size, size)
        except Exception as err:  # the backend's own error types differ (ImportError, GLError, RuntimeError)
            raise RuntimeError(
                f"AntMaze camera: offscreen MuJoCo rendering failed with MUJOCO_GL="
                f"{os.environ.get('MUJOCO_GL')!r} ({type(err).__name__}: {err}). Set MUJOCO_GL=egl (or osmesa) "
                "before anything imports mujoco, or create the env without render_mode='rgb_array'."
            ) from err
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._camera.lookat[:] = (0.0, 0.0, 0.0)
        self._camera.elevation = -90.0
        self._camera.azimuth = 90.0  # image up = world +y, so the map's row 0 is at the top
        half_fov = np.deg2rad(model.vis.global_.fovy) / 2
        self._camera.distance = 0.5 * extent / np.tan(half_fov) * 1.05

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """The current frame."""
        self._renderer.update_scene(data, camera=self._camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        self._renderer.close()
