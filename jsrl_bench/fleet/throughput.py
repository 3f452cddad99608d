"""A fleet of N sim actors and one learner on this host, each role started by its own ``jsrl_bringup``
(plain processes, a private ROS domain, localhost discovery), measured over a window once every actor's
episodes are acknowledged and the learner trains: env steps/s, learner updates/s, CPU seconds per role
(the bringup and its nodes, from /proc), bytes on the wire, delivery latency (the receiver's p50/p99)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from jsrl_bench.fleet.cpu import tree_cpu_s
from jsrl_bench.fleet.watch import FleetWatch

LEARNER_DIAGNOSTICS = "/diagnostics"
START_TIMEOUT_S = 420.0  # every actor's first episode acknowledged and a first update, on two loaded cores


def actor_diagnostics(actor: int) -> str:
    return f"/actor_{actor}/diagnostics"


@dataclass(frozen=True)
class Snapshot:
    time: float
    counters: dict[str, dict[str, dict[str, float]]]
    cpu_s: dict[str, float]


def trains(value: Callable[[str, str, str], float], ids: list[int]) -> bool:
    """Whether the window may start: every actor has an acknowledged episode and the learner has updated
    (``value(topic, node, key)``: a diagnostics counter's latest value, 0 if none yet)."""
    return (all(value(actor_diagnostics(a), "episode_sender", "acks") >= 1 for a in ids)
            and value(LEARNER_DIAGNOSTICS, "learner", "updates") > 0)


def ros_env(domain: int) -> dict[str, str]:
    """Children on the bench's private domain, discovering on this host only."""
    return {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            "AMENT_PREFIX_PATH": os.environ.get("AMENT_PREFIX_PATH", sys.prefix)}


def bringup_command(role_args: list[str], out: Path, keys: Path, params: Path | None) -> list[str]:
    return [sys.executable, "-m", "jsrl_ros.bringup.main", *role_args, "--out", str(out), "--keys", str(keys),
            "--duration", "3600", *(["--params", str(params)] if params else [])]


def measure_fleet(actors: int, seconds: float, domain: int, work: Path, keys: Path,
                  params: Path | None) -> dict[str, Any]:
    """One fleet of ``actors`` sim actors, measured for ``seconds`` once it trains."""
    from jsrl_ros.bringup.processes import ProcessGroup

    ids = list(range(1, actors + 1))
    topics = [LEARNER_DIAGNOSTICS, *(actor_diagnostics(a) for a in ids)]
    env = ros_env(domain)
    work.mkdir(parents=True, exist_ok=True)
    watch = FleetWatch(domain, topics)
    group = ProcessGroup((30.0, 5.0, 5.0))
    try:
        group.start("learner", bringup_command(["--role", "learner", "--allowed-actors", ",".join(map(str, ids))],
                                               work / "learner", keys, params), log_path=work / "learner.log", env=env)
        for a in ids:
            group.start(f"actor_{a}", bringup_command(["--role", "actor", "--actor-id", str(a)], work / f"actor_{a}",
                                                      keys, params), log_path=work / f"actor_{a}.log", env=env)

        def check() -> None:
            for name, code in group.exited().items():
                tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bench fleet: {name} exited with code {code}:\n{tail}")

        def snapshot() -> Snapshot:
            return Snapshot(time.monotonic(), {t: {n: dict(c) for n, c in watch.counters[t].items()} for t in topics},
                            tree_cpu_s({name: proc.pid for name, proc in group.procs.items()}))

        flowing = watch.spin_until(lambda: trains(watch.value, ids), START_TIMEOUT_S, check)
        if not flowing:
            raise RuntimeError(f"bench fleet: {actors} actor(s) not training after {START_TIMEOUT_S:g} s "
                               f"(logs in {work}): {watch.counters}")
        first = snapshot()
        watch.spin_for(seconds, check)
        last = snapshot()
    finally:
        group.stop()
        watch.close()
    return summarize(ids, first, last)


def summarize(ids: list[int], first: Snapshot, last: Snapshot) -> dict[str, Any]:
    """Rates over the window between two snapshots."""
    def delta(topic: str, node: str, key: str) -> float:
        return (last.counters[topic].get(node, {}).get(key, 0.0)
                - first.counters[topic].get(node, {}).get(key, 0.0))

    wall = last.time - first.time
    steps = sum(delta(actor_diagnostics(a), "sim_bridge", "steps") for a in ids)
    updates = delta(LEARNER_DIAGNOSTICS, "learner", "updates")
    episode_bytes = sum(delta(actor_diagnostics(a), "episode_sender", "bytes_sent") for a in ids)
    weight_bytes = delta(LEARNER_DIAGNOSTICS, "weights_broadcaster", "bytes") * len(ids)  # one copy per actor
    cpu = {name: last.cpu_s[name] - first.cpu_s.get(name, 0.0) for name in last.cpu_s}
    actors_cpu = sum(v for k, v in cpu.items() if k != "learner")
    receiver = last.counters[LEARNER_DIAGNOSTICS].get("episode_receiver", {})

    def per_step(x: float) -> float | None:
        return x / steps if steps else None
    return {
        "actors": len(ids), "window_s": wall, "env_steps": steps, "updates": updates,
        "episodes_acked": sum(delta(actor_diagnostics(a), "episode_sender", "acks") for a in ids),
        "env_steps_per_s": steps / wall, "updates_per_s": updates / wall,
        "env_steps_per_s_by_actor": {a: delta(actor_diagnostics(a), "sim_bridge", "steps") / wall for a in ids},
        "cpu_s": {"learner": cpu["learner"], "actors": actors_cpu, "total": cpu["learner"] + actors_cpu},
        "cpu_cores_used": (cpu["learner"] + actors_cpu) / wall,
        "env_steps_per_actor_cpu_s": steps / actors_cpu if actors_cpu else None,
        "env_steps_per_cpu_s": steps / (cpu["learner"] + actors_cpu),
        "updates_per_learner_cpu_s": updates / cpu["learner"] if cpu["learner"] else None,
        "learner_cpu_s_per_env_step": per_step(cpu["learner"]),
        "episode_bytes_per_env_step": per_step(episode_bytes),
        "weight_bytes_per_env_step": per_step(weight_bytes),
        "delivery_latency_p50_s": receiver.get("delivery_latency_p50_s"),
        "delivery_latency_p99_s": receiver.get("delivery_latency_p99_s"),
        "unauthenticated": receiver.get("unauthenticated", 0.0), "dropped": receiver.get("dropped", 0.0),
    }
