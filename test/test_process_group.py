"""ProcessGroup: the one way the bringup, benches and tests run node processes."""
import os
import signal
import sys
import time

import pytest

from jsrl_ros.bringup.processes import ProcessGroup

# Ignores SIGINT (a hung node), starts a grandchild that would outlive it, prints its pid, sleeps.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(path, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} stayed empty")


def test_stop_escalates_and_takes_the_grandchildren_with_it(tmp_path):
    group = ProcessGroup(grace_s=(0.5, 0.5, 5.0))
    group.start("stubborn", [sys.executable, "-c", STUBBORN], log_path=tmp_path / "stubborn.log")
    grandchild = int(wait_for(tmp_path / "stubborn.log"))
    codes = group.stop()
    assert codes["stubborn"] == -signal.SIGTERM  # SIGINT ignored, SIGTERM ends it
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:  # reaped by init once killed
        time.sleep(0.05)
    assert not alive(grandchild)


def test_exited_names_the_processes_that_ended_with_their_codes(tmp_path):
    with ProcessGroup(grace_s=(5.0, 5.0, 5.0)) as group:
        group.start("fails", [sys.executable, "-c", "raise SystemExit(3)"])
        group.start("sleeps", [sys.executable, "-c", "import time; time.sleep(60)"])
        group.procs["fails"].wait(timeout=30)
        assert group.exited() == {"fails": 3}
    assert group.procs["sleeps"].returncode is not None  # the context manager stopped it


def test_a_name_is_started_once():
    with ProcessGroup() as group:
        group.start("a", [sys.executable, "-c", "pass"])
        with pytest.raises(ValueError, match="'a'"):
            group.start("a", [sys.executable, "-c", "pass"])


# Starts a ProcessGroup child that sleeps, prints its pid, then waits to be killed (SIGKILL: no cleanup).
PARENT = """
import sys, time
from jsrl_ros.bringup.processes import ProcessGroup
group = ProcessGroup()
child = group.start("node", [sys.executable, "-c", "import time; time.sleep(120)"], log_path=None)
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_caller_takes_its_children_with_it(tmp_path):
    import subprocess

    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()  # SIGKILL: the group never gets to stop anyone
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:  # SIGTERM from the kernel, then reaped by init
            time.sleep(0.05)
        assert not alive(child)
    finally:
        parent.kill()
