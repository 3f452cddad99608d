"""``jsrl bench fuzz``: the fuzz harness of the CI test, run longer, with its numbers in a JSON file.

Per graph (``--graph``: the grasping sim graph, the real-arm graph with the fake arm, or both),
the graph is started by the embedded bringup from the current directory's checkout (the node
launchers import from it) and every input topic is attacked in turn (jsrl_bench/fuzz/): issue
11's probes, ``--examples`` hypothesis-generated malformed messages, a ``--flood``. With
``--duration`` the rounds repeat, each with the next seed, until that many seconds have passed
per graph; without it, one round. A graph an attack left unusable is restarted.

Reported per topic and in total: messages tried, drops counted (the nodes' drop counters on
``diagnostics``, after minus before), the worst recovery time (attack stop -> next step), and
whether the three properties held (no node exits, the loop keeps stepping, the arm stays safe).
rclpy and the harness are imported only when the bench runs, so ``jsrl`` starts without them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jsrl_learning.config import ConfigError

HELP = "fuzz every input topic of a running graph; no node exits, the loop keeps stepping, the arm stays in its box"
GRAPH_CHOICES = ("grasping_sim", "real_arm", "real_arm_joint", "all")
ALL = ("grasping_sim", "real_arm")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--graph", default="all", choices=GRAPH_CHOICES,
                   help="grasping_sim, real_arm (fake arm, twist commands), real_arm_joint (joint trajectories), "
                        "or all (the first two; default)")
    p.add_argument("--examples", type=int, default=50, help="generated messages per topic per round (default 50)")
    p.add_argument("--duration", type=float, help="seconds of attack rounds per graph (default: one round)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed of the first round (default 0)")
    p.add_argument("--flood", type=int, default=2000, help="unpaced messages after each sequence (default 2000)")
    p.add_argument("--recovery", type=float, default=30.0, help="s: the loop must step again within this (default 30)")
    p.add_argument("--source", default=".", help="checkout the nodes run from (default: the current directory)")
    p.add_argument("--isolate", action="store_true",
                   help="for each failed topic, bisect its messages down to the ones that still fail it")


def _aggregate(rows: list[Any]) -> dict[str, Any]:
    """One topic's rounds in one row."""
    recoveries = [r.recovery_s for r in rows if r.recovery_s is not None]
    return {"nodes": rows[0].nodes, "rounds": len(rows), "messages": sum(r.messages for r in rows),
            "known": sum(r.known for r in rows), "generated": sum(r.generated for r in rows),
            "flood": sum(r.flood for r in rows), "publish_errors": sum(r.publish_errors for r in rows),
            "drops": sum(r.drops for r in rows),
            "worst_recovery_s": None if len(recoveries) < len(rows) else max(recoveries, default=None),
            "no_node_exits": all(r.alive and r.clean for r in rows), "loop_keeps_stepping": all(r.stepping for r in rows),
            "arm_safe": None if rows[0].arm_safe is None else all(r.arm_safe for r in rows),
            "held": all(r.held for r in rows),
            "failures": [{"seed": r.seed, "seed_offset": i, "problems": r.problems, "examples": r.examples}
                         for i, r in enumerate(rows) if not r.held]}


def isolate_failure(name: str, topic: str, seed_offset: int, settings: Any, work: Path, domain: int, source: Path,
                    config_dir: Path) -> dict[str, Any]:
    """Bisect a failed attack (its round's seed) down to the messages that still fail it."""
    from jsrl_bench.fuzz.campaign import LiveGraph
    from jsrl_bench.fuzz.isolate import Replayer, isolate

    runs = iter(range(10**6))
    replayer = Replayer(lambda: LiveGraph(name, work / f"{name}_isolate_{next(runs)}", domain, source, config_dir,
                                          settings), topic, settings.flood)
    try:
        replayer.graph = replayer.make()
        replayer.graph.start()
        known, drawn = replayer.graph.shots(replayer.graph.topic(topic), seed_offset)
        shots, failure = isolate(replayer, known + drawn)
    finally:
        replayer.close()
    print(f"  isolated {name} {topic}: {len(shots)} message(s) after {replayer.replays} replays", flush=True)
    return {"messages": [str(s) for s in shots][:10], "count": len(shots), "replays": replayer.replays,
            "reproduced": failure is not None, "problems": failure.problems if failure else []}


def fuzz_graph(name: str, args: argparse.Namespace, work: Path, domain: int) -> dict[str, Any]:
    from jsrl_bench.fuzz.campaign import GraphDidNotStart, LiveGraph, Settings

    settings = Settings(examples=args.examples, flood=args.flood, seed=args.seed, recovery_s=args.recovery)
    source = Path(args.source).resolve()
    config_dir = source / "config" / "ros" if (source / "config").is_dir() else _installed_config()
    rows: dict[str, list[Any]] = {}
    starts: list[float] = []
    arm_checked: Counter[str] = Counter()
    unfuzzed: list[str] = []
    codes: dict[str, int] = {}
    started = time.monotonic()
    live: LiveGraph | None = None
    rounds = 0
    try:
        while rounds == 0 or (args.duration is not None and time.monotonic() - started < args.duration):
            for topic_index in range(10**6):
                if live is not None and topic_index >= len(live.topics):
                    break
                if live is None or not live.usable():
                    if live is not None:
                        arm_checked += live.arm.checked if live.arm else Counter()
                        live.close()
                    t0 = time.monotonic()
                    live = LiveGraph(name, work / f"{name}_{len(starts)}", domain, source, config_dir, settings)
                    live.start()
                    starts.append(round(time.monotonic() - t0, 1))
                    if len(starts) == 1:
                        unfuzzed = live.unfuzzed_inputs()
                topic = live.topics[topic_index]
                result = live.attack(topic, seed_offset=rounds)
                rows.setdefault(topic.topic, []).append(result)
                status = "held" if result.held else "FAILED: " + "; ".join(result.problems)[:300]
                print(f"  {name} round {rounds} {topic.topic:<46} {result.messages:>6} msgs  drops {result.drops:>7g}  "
                      f"recovery {result.recovery_s if result.recovery_s is not None else '-':>6}  {status}", flush=True)
            rounds += 1
    except GraphDidNotStart as exc:
        return {"error": str(exc), "topics": {t: _aggregate(r) for t, r in rows.items()}}
    finally:
        if live is not None:
            arm_checked += live.arm.checked if live.arm else Counter()
            codes = live.close()
    topics = {t: _aggregate(r) for t, r in rows.items()}
    if args.isolate:
        for topic, row in topics.items():
            if row["failures"]:
                row["isolated"] = isolate_failure(name, topic, row["failures"][0]["seed_offset"], settings, work,
                                                  domain, source, config_dir)
    recoveries = [t["worst_recovery_s"] for t in topics.values()]
    return {
        "rounds": rounds, "wall_s": round(time.monotonic() - started, 1), "starts_s": starts, "restarts": len(starts) - 1,
        "messages": sum(t["messages"] for t in topics.values()), "drops": sum(t["drops"] for t in topics.values()),
        "worst_recovery_s": None if None in recoveries else max(recoveries, default=None),
        "no_node_exits": all(t["no_node_exits"] for t in topics.values()),
        "loop_keeps_stepping": all(t["loop_keeps_stepping"] for t in topics.values()),
        "arm_safe": None if not arm_checked else all(t["arm_safe"] is not False for t in topics.values()),
        "arm_checked": dict(arm_checked), "unfuzzed_inputs": unfuzzed, "exit_codes_at_the_end": codes,
        "held": all(t["held"] for t in topics.values()) and not unfuzzed, "topics": topics,
    }


def _installed_config() -> Path:
    from jsrl_ros.bringup.main import PACKAGE, package_prefix
    return package_prefix() / "share" / PACKAGE / "config" / "ros"


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {out}")
    if args.examples < 0 or args.flood < 0 or (args.duration is not None and args.duration <= 0):
        raise ConfigError("--examples and --flood must be >= 0, --duration > 0")
    graphs = ALL if args.graph == "all" else (args.graph,)
    domain = random.Random(os.getpid()).randrange(200, 230)  # away from the tests' 100+ and the default 0
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jsrl_bench_fuzz_") as tmp:
        results = {name: fuzz_graph(name, args, Path(tmp), domain) for name in graphs}
    result = {
        "graphs": results, "held": all(g.get("held", False) for g in results.values()),
        "wall_s": round(time.monotonic() - started, 1),
        "settings": {k: getattr(args, k) for k in ("graph", "examples", "duration", "seed", "flood", "recovery")},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
                    "python": sys.version.split()[0]},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    for name, g in results.items():
        if "error" in g:
            print(f"{name}: {g['error']}")
            continue
        print(f"{name}: {g['rounds']} round(s) in {g['wall_s']:g} s, {g['messages']} messages, drops counted "
              f"{g['drops']:g}, worst recovery {g['worst_recovery_s']} s, restarts {g['restarts']}; no node exits: "
              f"{g['no_node_exits']}, loop keeps stepping: {g['loop_keeps_stepping']}, arm safe: {g['arm_safe']}")
        for topic, row in g["topics"].items():
            if not row["held"]:
                print(f"  FAILED {topic}: {row['failures'][0]['problems']}")
        if g["unfuzzed_inputs"]:
            print(f"  inputs the catalogue misses: {g['unfuzzed_inputs']}")
    print(f"properties held: {result['held']}\nresults: {out}")
    return 0 if result["held"] else 1

