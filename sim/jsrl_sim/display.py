"""Whether a simulator may open its own window (``gui=True``).

On Linux, pybullet's GUI and MuJoCo's viewer both need an X11 or Wayland display; without one
pybullet exits the whole process from C and GLFW fails deep inside the viewer. Checking first
turns that into one clear error that points a headless user at the browser view.
"""
from __future__ import annotations

import os
import sys


def require_display(who: str, error: type[ValueError]) -> None:
    """Raise ``error`` if ``who``'s window cannot open: Linux with neither DISPLAY nor WAYLAND_DISPLAY set."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise error(f"{who}: gui=True opens a window, but this machine has no display (DISPLAY and "
                    "WAYLAND_DISPLAY are unset); on a headless machine use the browser view instead "
                    "(graph option view:=true, docs/human_guide.md)")
