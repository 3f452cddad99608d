"""One way to run a graph's processes: each in its own process group, stopped together and in order.

A node is stopped with SIGINT first (it finishes its callback and closes what it holds: the
recorder its bag), then SIGTERM, then SIGKILL. The signals go to the node's whole process
group, so nothing it started itself outlives it. Used by the embedded bringup, the benches
and the tests; as a context manager it stops everything even when the caller fails. Should the
caller itself be killed (SIGKILL, no chance to stop anyone), each child gets SIGTERM from the
kernel (Linux: ``PR_SET_PDEATHSIG``), so no node goes on driving a sim or an arm on its own.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Callable

#: Seconds each signal is given before the next, stronger one: SIGINT, SIGTERM, SIGKILL.
DEFAULT_GRACE_S = (15.0, 5.0, 5.0)

PR_SET_PDEATHSIG = 1  # linux/prctl.h
#: libc's prctl, looked up once here: the child calls it between fork and exec, where it must not load anything
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _terminated_with(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn``: the child gets SIGTERM when ``parent`` dies, however it dies (Linux only)."""
    if _PRCTL is None:
        return None

    def arm() -> None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before the prctl: nobody would send it
            os._exit(1)
    return arm


class ProcessGroup:
    """Named child processes: started one by one, watched for exits, stopped together."""

    def __init__(self, grace_s: tuple[float, float, float] = DEFAULT_GRACE_S) -> None:
        self.grace_s = grace_s
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[IO[bytes]] = []

    def start(self, name: str, command: list[str], *, log_path: Path | None = None, env: dict[str, str] | None = None,
              cwd: Path | None = None, terminal: bool = False) -> subprocess.Popen:
        """Start ``command``; its output goes to ``log_path`` (else inherited).

        A ``terminal`` process reads this terminal's keyboard, so it stays in the caller's session
        (Ctrl-C reaches it directly); every other one gets a session of its own, so Ctrl-C reaches
        only the caller, which stops the group in order.
        """
        if name in self.procs:
            raise ValueError(f"a process named {name!r} was already started")
        env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        if terminal:
            proc = subprocess.Popen(command, env=env, cwd=cwd)
        else:
            out: IO[bytes] | int = subprocess.DEVNULL
            if log_path is not None:
                out = open(log_path, "wb")
                self.logs.append(out)
            proc = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_terminated_with(os.getpid()))
        self.procs[name] = proc
        return proc

    def exited(self) -> dict[str, int]:
        """The processes that have ended, with their exit codes."""
        return {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}

    def signal(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` to one process's group (to the process alone if it shares the caller's)."""
        proc = self.procs[name]
        if proc.poll() is not None:
            return
        try:
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:  # it ended between the poll and the signal
            pass

    def stop(self) -> dict[str, int]:
        """Stop every process still running (SIGINT, SIGTERM, SIGKILL); return every exit code."""
        for sig, wait_s in zip((signal.SIGINT, signal.SIGTERM, signal.SIGKILL), self.grace_s):
            running = [name for name, proc in self.procs.items() if proc.poll() is None]
            for name in running:
                self.signal(name, sig)
            deadline = time.monotonic() + wait_s
            for name in running:
                try:
                    self.procs[name].wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for log in self.logs:
            log.close()
        self.logs.clear()
        return {name: proc.returncode for name, proc in self.procs.items()}

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
