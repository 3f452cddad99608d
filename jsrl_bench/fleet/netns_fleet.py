"""A fleet across network namespaces (``jsrl bench fleet --netns``): the learner on one lab host, the sim
actors on another, DDS discovery through configured peers (UDPv4 only, no shared memory), as in
test/test_fleet_netns.py. Measured over the same window as the plain fleets, plus what really crossed
the learner's link: its eth0 rx + tx bytes (RTPS/UDP/IP headers, heartbeats, acknacks, retransmissions
and discovery included), per env step and against the payload the senders counted.

The diagnostics are read by a probe on each host (the learner's on its own host, the actors' on
theirs), so no diagnostics cross the link; the probes' own discovery announcements do (a few hundred
bytes every few seconds)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from jsrl_bench.fleet import diag_probe
from jsrl_bench.fleet.cpu import tree_cpu_s
from jsrl_bench.fleet.throughput import (LEARNER_DIAGNOSTICS, START_TIMEOUT_S, Snapshot, actor_diagnostics,
                                         bringup_command, summarize, trains)
from jsrl_ros.fleet.dds_peers import write_peer_config
from jsrl_ros.fleet.netns import NetnsLab

HOSTS = ("learner", "actors")
POLL_S = 0.5


def peer_env(lab: NetnsLab, host: str, folder: Path, domain: int, with_peers: bool = True) -> dict[str, str]:
    """The environment for processes on ``host``: discovery through the lab's other hosts as peers
    (or through none: a negative control), on ``domain``."""
    peers = [ip for other, ip in lab.ips.items() if other != host] if with_peers else []
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    env.update(write_peer_config(peers, folder / f"dds_{host}.xml"))
    return env


def measure_fleet_netns(actors: int, seconds: float, domain: int, work: Path, keys: Path,
                        params: Path | None) -> dict[str, Any]:
    """One fleet of ``actors`` sim actors across two namespaces, measured for ``seconds`` once it trains;
    the lab (namespaces and every process in them) is removed on every way out."""
    ids = list(range(1, actors + 1))
    probes = {"learner": [LEARNER_DIAGNOSTICS], "actors": [actor_diagnostics(a) for a in ids]}
    with NetnsLab(list(HOSTS), work / "logs") as lab:
        env = {h: {**peer_env(lab, h, work, domain), "AMENT_PREFIX_PATH": os.environ.get("AMENT_PREFIX_PATH",
                                                                                      sys.prefix)} for h in HOSTS}
        procs = {f"diag_{h}": lab.spawn(h, [sys.executable, diag_probe.__file__, *topics], f"diag_{h}", env[h])
                 for h, topics in probes.items()}
        procs["learner"] = lab.spawn("learner", bringup_command(
            ["--role", "learner", "--allowed-actors", ",".join(map(str, ids))], work / "learner", keys, params),
            "learner", env["learner"])
        for a in ids:
            procs[f"actor_{a}"] = lab.spawn("actors", bringup_command(
                ["--role", "actor", "--actor-id", str(a)], work / f"actor_{a}", keys, params), f"actor_{a}",
                env["actors"])

        def counters() -> dict[str, dict[str, dict[str, float]]]:
            return {t: c for h, topics in probes.items()
                    for t, c in diag_probe.latest_counters(lab.log(f"diag_{h}"), topics).items()}

        def wait(until: float, condition=lambda: False) -> bool:
            while time.monotonic() < until:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"bench fleet --netns: {name} exited with code {proc.returncode}:\n"
                                           f"{lab.log(name)[-3000:]}")
                if condition():
                    return True
                time.sleep(POLL_S)
            return False

        def snapshot() -> tuple[Snapshot, dict[str, int]]:
            link = lab.counters("learner")
            roles = {n: p.pid for n, p in procs.items() if not n.startswith("diag_")}
            return Snapshot(time.monotonic(), counters(), tree_cpu_s(roles)), link

        seen: dict[str, dict[str, dict[str, float]]] = {}

        def value(topic: str, node: str, key: str) -> float:
            return seen.get(topic, {}).get(node, {}).get(key, 0.0)

        def flowing() -> bool:
            seen.update(counters())
            return trains(value, ids)

        if not wait(time.monotonic() + START_TIMEOUT_S, flowing):
            raise RuntimeError(f"bench fleet --netns: {actors} actor(s) not training after {START_TIMEOUT_S:g} s "
                               f"(logs in {lab.log_dir}): {seen}")
        first, link_first = snapshot()
        wait(time.monotonic() + seconds)
        last, link_last = snapshot()
    fleet = summarize(ids, first, last)
    return fleet | wire_fields(fleet, link_first, link_last)


def wire_fields(fleet: dict[str, Any], link_first: dict[str, int], link_last: dict[str, int]) -> dict[str, Any]:
    """The learner link's bytes over the window, per env step and against the payload per env step."""
    rx = link_last["rx_bytes"] - link_first["rx_bytes"]
    tx = link_last["tx_bytes"] - link_first["tx_bytes"]
    steps = fleet["env_steps"]
    payload = (fleet["episode_bytes_per_env_step"] or 0.0) + (fleet["weight_bytes_per_env_step"] or 0.0)
    wire = (rx + tx) / steps if steps else None
    return {"learner_link_rx_bytes": rx, "learner_link_tx_bytes": tx,
            "wire_bytes_per_env_step": wire, "payload_bytes_per_env_step": payload,
            "wire_over_payload": wire / payload if wire is not None and payload else None}
