"""The simulators' own windows (``gui=True``) open on a display: Xvfb, a virtual X server from
Debian's packages (.ci/run installs it), stands in for a desktop. Each env runs in its own
process, as in the sim bridge (pybullet allows one GUI per process; GLFW keeps global state).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Iterator

import pytest

XVFB = shutil.which("Xvfb")
MARKER = "WINDOW OPEN"
SCRIPTS = {
    "grasping: pybullet's GUI": f"""
import pybullet as p
from jsrl_sim.grasping.env import GraspEnv
env = GraspEnv(gui=True)
env.reset(seed=0)
env.step(env.action_space.sample() * [1, 1, 1, 1, 0] - [0, 0, 0, 0, 1])
if env.scene.client.getConnectionInfo()["connectionMethod"] == p.GUI:
    print("{MARKER}", flush=True)
env.close()
""",
    "antmaze: MuJoCo's viewer": f"""
from jsrl_sim.antmaze.env import AntMazeEnv
env = AntMazeEnv(gui=True, max_steps=5)
env.reset(seed=0)
env.step(env.action_space.sample())
if env.window is not None and env.window.is_open:
    print("{MARKER}", flush=True)
env.close()
""",
}

pytestmark = pytest.mark.skipif(XVFB is None,
                                reason="Xvfb is not installed (.ci/run installs it: apt-get install xvfb)")


@pytest.fixture
def display() -> Iterator[str]:
    """A private virtual display; Xvfb picks a free number and reports it on a pipe once it is ready."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen([XVFB, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_gui_opens_the_simulators_window(display: str, script: str) -> None:
    run = subprocess.run([sys.executable, "-c", script], env={**os.environ, "DISPLAY": display},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and MARKER in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
