"""``jsrl bench fleet``: what a fleet over DDS costs and delivers, on one host with sim actors.

* **weight broadcast time**: a checkpoint written and announced by the learner -> every actor has
  verified and written it (jsrl_bench/fleet/weights_time.py), for QT-Opt's critic with state and
  with 64 px image observations;
* **fleets of 1, 2, 4 sim actors** (jsrl_bench/fleet/throughput.py): each a learner role and N actor
  roles, every role its own ``jsrl_bringup`` (plain processes on this host, distinct namespaces,
  a private ROS domain; no network namespaces), measured for ``--seconds`` once it trains: env
  steps/s, learner updates/s, per CPU-second (the roles' CPU time from /proc), episode delivery
  latency p50/p99 (the receiver's: receive time - the actor's send stamp, one clock), bytes on the
  wire per env step (episode frames sent, plus one copy of each checkpoint per actor);
* a **prediction** for N machines from those per-CPU-second costs (:func:`predict`).

``--netns`` (root): the fleets only, each with the learner and the actors on two network namespaces
joined by a virtual switch (jsrl_bench/fleet/netns_fleet.py), adding the bytes really on the learner's
link per env step (headers, DDS's own traffic and retransmissions included) next to the payload.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jsrl_bench.cli.bench_common import json_out
from jsrl_ros.fleet import netns

HELP = ("fleet over DDS: episode delivery latency, weight broadcast time (state and 64 px image critic), "
        "updates/s and env steps/s with 1, 2, 4 sim actors (and per CPU-second), bytes on the wire per env step")
OBS_MODES = ("state", "image")
PREDICT_MACHINES = (1, 2, 4, 8, 16, 32)
LEARNER_CORES = 1  # the prediction's learner: one core, as here
NETNS_DOMAIN = 77  # the namespaces isolate the network: any domain works


@dataclass(frozen=True)
class Settings:
    actors: tuple[int, ...] = (1, 2, 4)
    seconds: float = 75.0  # measured window per fleet
    broadcasts: int = 5  # checkpoints timed per critic
    receivers: int = 2  # actors receiving each broadcast


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Settings()
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--actors", type=int, nargs="+", default=list(d.actors), help="fleet sizes to run (sim actors)")
    p.add_argument("--seconds", type=float, default=d.seconds, help="measured window per fleet, once it trains")
    p.add_argument("--broadcasts", type=int, default=d.broadcasts, help="checkpoints timed per critic")
    p.add_argument("--receivers", type=int, default=d.receivers, help="actors receiving each timed broadcast")
    p.add_argument("--params", help="scenario YAML (default: the installed grasping_sim.yaml of the fleet roles)")
    p.add_argument("--netns", action="store_true",
                   help="fleets only, learner and actors on two network namespaces (root): also the bytes on "
                        "the learner's link per env step")
    p.add_argument("--work-dir", help="keep the runs' logs, keys and episodes here (default: a temporary folder)")


def default_scenario() -> Path:
    from jsrl_ros.bringup.graph import GRAPHS
    from jsrl_ros.bringup.main import PACKAGE, package_prefix

    return package_prefix() / "share" / PACKAGE / "config" / "ros" / GRAPHS["fleet_learner"].build().params_file


def git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def learner_costs(fleets: list[dict[str, Any]]) -> tuple[float, float]:
    """The learner role's CPU seconds per env step it takes in (receiver, storage, replay ingest) and per
    update: least squares over the fleets of learner CPU = a * env steps + b * updates (the fleets differ
    in updates per step: a starved learner updates less), clipped at 0; one fleet: all of it per step."""
    if len(fleets) < 2:
        return fleets[0]["learner_cpu_s_per_env_step"] or 0.0, 0.0
    rows = np.array([[f["env_steps"], f["updates"]] for f in fleets], dtype=float)
    cpu = np.array([f["cpu_s"]["learner"] for f in fleets])
    (per_step, per_update), *_ = np.linalg.lstsq(rows, cpu, rcond=None)
    return max(float(per_step), 0.0), max(float(per_update), 0.0)


def predict(fleets: list[dict[str, Any]]) -> dict[str, Any]:
    """Fleet env steps/s on N machines, one sim actor each with cores of its own, and a learner on
    ``LEARNER_CORES``: each actor runs at the 1-actor fleet's rate (the least contended run) and the
    learner keeps that run's updates per env step, until the learner's CPU per env step (ingest plus
    those updates, :func:`learner_costs`) fills its cores; beyond that, more actors only lower the
    updates per step (as the 4-actor fleet here shows)."""
    alone = min(fleets, key=lambda f: f["actors"])
    rate = alone["env_steps_per_s"] / alone["actors"]
    ratio = alone["updates"] / alone["env_steps"] if alone["env_steps"] else 0.0
    per_step, per_update = learner_costs(fleets)
    ceiling = LEARNER_CORES / (per_step + per_update * ratio)
    wire = (alone["episode_bytes_per_env_step"] or 0.0) + (alone["weight_bytes_per_env_step"] or 0.0)
    steps = {n: min(n * rate, ceiling) for n in PREDICT_MACHINES}
    return {"env_steps_per_s_per_actor": rate, "actor_cores_per_actor": alone["cpu_s"]["actors"] /
            alone["window_s"] / alone["actors"], "updates_per_env_step": ratio,
            "learner_cpu_s_per_env_step": per_step, "learner_cpu_s_per_update": per_update,
            "learner_cores": LEARNER_CORES, "learner_ceiling_env_steps_per_s": ceiling,
            "learner_saturates_at_machines": ceiling / rate, "env_steps_per_s": steps,
            "wire_bytes_per_s": {n: s * wire for n, s in steps.items()}}


def run_bench(settings: Settings, scenario: Path, work: Path) -> dict[str, Any]:
    from jsrl_bench.fleet.throughput import measure_fleet
    from jsrl_bench.fleet.weights_time import measure_broadcasts
    from jsrl_ros.fleet.keys import make_key_dir

    keys = work / "keys"
    make_key_dir(keys, list(range(1, max(settings.actors) + 1)))
    domain = random.Random(os.getpid()).randrange(150, 230)  # away from 0 and from the tests' 100..149
    print(f"weight broadcasts: {settings.broadcasts} per critic to {settings.receivers} actors", flush=True)
    weights = measure_broadcasts(scenario, OBS_MODES, settings.broadcasts, settings.receivers, domain,
                                 work / "weights", keys)
    fleets = []
    for n in settings.actors:
        print(f"fleet of {n} sim actor(s): {settings.seconds:g} s once it trains", flush=True)
        fleets.append(measure_fleet(n, settings.seconds, domain, work / f"fleet_{n}", keys, scenario))
    return {"weights": weights, "fleets": fleets, "prediction": predict(fleets)}


def run_netns_bench(settings: Settings, scenario: Path, work: Path) -> dict[str, Any]:
    from jsrl_bench.fleet.netns_fleet import measure_fleet_netns
    from jsrl_ros.fleet.keys import make_key_dir

    keys = work / "keys"
    make_key_dir(keys, list(range(1, max(settings.actors) + 1)))
    fleets = []
    for n in settings.actors:
        print(f"fleet of {n} sim actor(s) across network namespaces: {settings.seconds:g} s once it trains",
              flush=True)
        fleets.append(measure_fleet_netns(n, settings.seconds, NETNS_DOMAIN, work / f"fleet_{n}", keys, scenario))
    return {"fleets": fleets, "prediction": predict(fleets)}


def format_table(result: dict[str, Any]) -> str:
    lines = []
    if "weights" in result:
        lines += ["weight broadcast (written -> every actor verified and wrote it)",
                  f"  {'critic':<8}{'bytes':>12}{'median s':>10}{'max s':>8}"]
        for mode, w in result["weights"].items():
            lines.append(f"  {mode:<8}{w['checkpoint_bytes']:>12}{w['median_s']:>10.3f}{w['max_s']:>8.3f}")
    lines += ["fleets", f"  {'actors':>6}{'steps/s':>9}{'upd/s':>8}{'cores':>7}{'steps/actor-cpu-s':>19}"
                        f"{'upd/learner-cpu-s':>19}{'lat p50 s':>11}{'lat p99 s':>11}{'B/step':>9}"]
    for f in result["fleets"]:
        lines.append(f"  {f['actors']:>6}{f['env_steps_per_s']:>9.1f}{f['updates_per_s']:>8.1f}"
                     f"{f['cpu_cores_used']:>7.2f}{f['env_steps_per_actor_cpu_s'] or 0:>19.1f}"
                     f"{f['updates_per_learner_cpu_s'] or 0:>19.1f}{f['delivery_latency_p50_s'] or 0:>11.3f}"
                     f"{f['delivery_latency_p99_s'] or 0:>11.3f}"
                     f"{(f['episode_bytes_per_env_step'] or 0) + (f['weight_bytes_per_env_step'] or 0):>9.0f}")
    for f in result["fleets"]:
        if "wire_bytes_per_env_step" in f:
            lines.append(f"  {f['actors']} actor(s), learner link: {f['wire_bytes_per_env_step'] or 0:.0f} B/step on "
                         f"the wire (rx {f['learner_link_rx_bytes']} + tx {f['learner_link_tx_bytes']} B) vs "
                         f"{f['payload_bytes_per_env_step']:.0f} payload: x{f['wire_over_payload'] or 0:.2f}")
    p = result["prediction"]
    lines.append(f"prediction: {p['env_steps_per_s_per_actor']:.1f} steps/s per actor machine; the learner costs "
                 f"{p['learner_cpu_s_per_env_step'] * 1e3:.1f} ms CPU per env step + "
                 f"{p['learner_cpu_s_per_update'] * 1e3:.1f} ms per update; at {p['updates_per_env_step']:.2f} "
                 f"updates/step a {p['learner_cores']}-core learner saturates at "
                 f"{p['learner_ceiling_env_steps_per_s']:.0f} steps/s "
                 f"(~{p['learner_saturates_at_machines']:.1f} machines)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    out = json_out(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings(tuple(args.actors), args.seconds, args.broadcasts, args.receivers)
    scenario = Path(args.params) if args.params else default_scenario()
    load_before, started = os.getloadavg(), time.perf_counter()
    if args.netns and (reason := netns.available()):
        print(f"jsrl bench fleet --netns: needs network namespaces: {reason}", file=sys.stderr)
        return 2
    bench = run_netns_bench if args.netns else run_bench
    with tempfile.TemporaryDirectory(prefix="jsrl_bench_fleet_") as tmp:
        result = bench(settings, scenario, Path(args.work_dir) if args.work_dir else Path(tmp))
    result["meta"] = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                      "settings": vars(settings) | {"actors": list(settings.actors)}, "scenario": str(scenario),
                      "cpu_count": os.cpu_count(), "loadavg_before": list(load_before),
                      "loadavg_after": list(os.getloadavg()), "git_commit": git_commit(),
                      "wall_s": time.perf_counter() - started,
                      "mode": ("learner and actors on two network namespaces, peer discovery, UDPv4" if args.netns
                               else "plain processes on one host (no netns)")}
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(format_table(result))
    print(f"results: {out}")
    return 0
