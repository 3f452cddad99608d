"""Network namespaces joined by a virtual switch: several "hosts" on one machine (needs root).

Why: a fleet's faults (a learner on another host restarting, a cable pulled for 20 s) can only be
tested for real when the actors and the learner have separate network stacks, so that DDS cannot
take a loopback or shared-memory shortcut. Each host namespace gets ``eth0`` with 10.77.0.<n>/24,
plugged into a Linux bridge that lives in a switch namespace of its own (nothing touches the
machine's root namespace, so addresses never clash with the machine's or with another lab's).

Namespace names carry the creating process's pid (``jsrl-<pid>-<host>``): parallel runs never
clash, and :func:`sweep_stale` removes what a killed run left behind.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

PREFIX = "jsrl"
SUBNET = "10.77.0"
_NAME = re.compile(rf"^{PREFIX}-(\d+)-[\w]+$")


def available() -> str | None:
    """None when namespaces can be made here, else why not (for a test's skip reason)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add` fails otherwise)"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def namespaces() -> list[str]:
    """The network namespaces on this machine."""
    return [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_inside(namespace: str) -> None:
    """SIGKILL every process still running in ``namespace`` (all were started by its lab)."""
    done = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    for pid in done.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _delete(namespace: str) -> None:
    _kill_inside(namespace)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def sweep_stale() -> list[str]:
    """Delete namespaces (and their processes) left by labs whose creating process is dead."""
    stale = [ns for ns in namespaces() if (m := _NAME.match(ns)) and not _pid_alive(int(m.group(1)))]
    for namespace in stale:
        _delete(namespace)
    return stale


class NetnsLab:
    """Hosts (network namespaces) on one virtual switch; processes started inside; all undone by ``close``."""

    def __init__(self, hosts: Sequence[str], log_dir: Path) -> None:
        if len(set(hosts)) != len(hosts) or not all(re.fullmatch(r"[a-z0-9]+", h) for h in hosts):
            raise ValueError(f"host names must be distinct and [a-z0-9]+, got {list(hosts)}")
        sweep_stale()
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.switch = f"{PREFIX}-{os.getpid()}-switch"
        self.hosts = {h: f"{PREFIX}-{os.getpid()}-{h}" for h in hosts}
        self.ips = {h: f"{SUBNET}.{i + 1}" for i, h in enumerate(hosts)}
        self._ports = {h: f"port{i}" for i, h in enumerate(hosts)}
        self._procs: list[subprocess.Popen] = []
        self._closed = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        for namespace in (self.switch, *self.hosts.values()):
            if namespace in namespaces():
                _delete(namespace)  # this pid's own leftover (pid reuse)
            _ip("netns", "add", namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
            # IPv4 only: no IPv6 router/neighbour chatter, so eth0's multicast counter shows DDS's alone
            subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                           check=True, capture_output=True)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for host, namespace in self.hosts.items():
            port = self._ports[host]
            _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            _ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
            _ip("-n", namespace, "addr", "add", f"{self.ips[host]}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")

    def set_link(self, host: str, up: bool) -> None:
        """Plug ``host``'s cable in or pull it out (its switch port goes up or down; its address stays)."""
        _ip("-n", self.switch, "link", "set", self._ports[host], "up" if up else "down")

    def counters(self, host: str) -> dict[str, int]:
        """``host``'s eth0 counters since the lab was built: tx_bytes, rx_bytes, rx_multicast."""
        stats = json.loads(_ip("-n", self.hosts[host], "-s", "-j", "link", "show", "eth0"))[0]["stats64"]
        return {"tx_bytes": stats["tx"]["bytes"], "rx_bytes": stats["rx"]["bytes"],
                "rx_multicast": stats["rx"]["multicast"]}

    def spawn(self, host: str, argv: Sequence[str], name: str, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        """Start ``argv`` inside ``host`` in a process group of its own; output goes to ``<log_dir>/<name>.log``."""
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(["ip", "netns", "exec", self.hosts[host], *argv], stdout=log,
                                stderr=subprocess.STDOUT, env=dict(env if env is not None else os.environ),
                                cwd=cwd, start_new_session=True)
        log.close()
        self._procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def stop(proc: subprocess.Popen, grace_s: float = 5.0, sig: int = signal.SIGINT) -> int | None:
        """Send ``sig`` to the process's group, SIGKILL it after ``grace_s``; returns the exit code."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                NetnsLab.kill(proc)
        return proc.returncode

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the process and everything it started, in whatever group or session (a crash: no
        clean-up code runs; a bringup's nodes have sessions of their own)."""
        for pid in [proc.pid, *_descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()

    def close(self) -> None:
        """Stop every process started here and delete the namespaces; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for proc in self._procs:
            self.stop(proc, grace_s=2.0)
        for namespace in (*self.hosts.values(), self.switch):
            _delete(namespace)
        atexit.unregister(self.close)

    def __enter__(self) -> "NetnsLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

