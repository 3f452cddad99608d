"""jsrl_bringup stops its graph on SIGINT and SIGTERM even when it was started with SIGINT ignored
(as a shell starts background jobs, and Python then leaves it ignored)."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

PROGRAM = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell's background job inherits
from jsrl_ros.bringup.stop_signals import StopSignals
stops = StopSignals()
print("ready", flush=True)
deadline = time.monotonic() + 60
while stops.first is None and time.monotonic() < deadline:  # the handler only notes it: the loop polls
    time.sleep(0.01)
stops.noted_only()
signal.raise_signal(signal.SIGINT)  # once stopping, another signal is only noted
print(f"stopped by {stops.first}", flush=True)
"""


@pytest.mark.parametrize("signum, name", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_a_stop_signal_reaches_the_loop_even_if_sigint_was_ignored(signum: int, name: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert output.splitlines() == ["SIGINT: already stopping the graph", f"stopped by {name}"]
