"""Test plumbing for fleet tests across network namespaces: a fixture that makes labs and always
removes them, peer-configured environments, and polling for a process's output."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from jsrl_bench.fleet import dds_probe, netns_fleet
from jsrl_ros.fleet import netns
from jsrl_ros.fleet.netns import NetnsLab

PROBE = str(Path(dds_probe.__file__))
# Namespaces isolate the network, so any domain works; a fixed non-default one keeps a stray
# participant outside the lab (none can reach it anyway) from mattering.
DOMAIN_ID = 77


@pytest.fixture
def netns_lab(tmp_path: Path) -> Iterator[Callable[..., NetnsLab]]:
    """``make(hosts)`` builds a lab; every lab (namespaces and processes) is removed after the test,
    whether it passed, failed or was interrupted (and at exit, and by the next run's stale sweep)."""
    reason = netns.available()
    if reason:
        pytest.skip(f"needs network namespaces: {reason}")
    labs: list[NetnsLab] = []

    def make(hosts: list[str]) -> NetnsLab:
        labs.append(NetnsLab(hosts, tmp_path / f"lab{len(labs)}"))
        return labs[-1]

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


def peer_env(lab: NetnsLab, host: str, folder: Path, with_peers: bool = True) -> dict[str, str]:
    """The environment for processes on ``host`` (the bench's, on the tests' domain)."""
    return netns_fleet.peer_env(lab, host, folder, DOMAIN_ID, with_peers)


def probe(lab: NetnsLab, host: str, role: str, name: str, env: dict[str, str], *args: str):
    return lab.spawn(host, [sys.executable, PROBE, role, *args], name, env)


def data_lines(lab: NetnsLab, name: str) -> list[list[str]]:
    """A probe's output lines that start with a timestamp, split into fields."""
    return [line.split() for line in lab.log(name).splitlines() if line[:1].isdigit()]


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.1) -> bool:
    """Poll ``condition()`` until true or ``timeout_s`` passes (a generous bound, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return bool(condition())
