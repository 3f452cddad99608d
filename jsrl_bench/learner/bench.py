"""Learner update speed: the project's IQL and QT-Opt next to plain-PyTorch references.

    jsrl bench learner --out results/learner_speed.json [--quick]

Shapes: IQL on AntMaze (obs 29 as D4RL gives it, 31 as our env does; action 8; batch 256;
2x256 networks); QT-Opt on the grasping env's spaces (46-D state, or a Dict of a 64x64x3 uint8
image and a 7-D proprio vector; action 5). The references (:mod:`reference_learners`) start
from the same weights and compute the same losses.

Every contender runs at 1 and 2 torch threads; the project's IQL also with its two update
halves on two threads of one torch thread each (``update_threads: 2``, two cores). Timing is
on pre-sampled batches (sampling excluded) in interleaved rounds, so a burst of other work
on this shared machine hits every contender alike; a contender's rate is its median round.
Three clocks, with the load average and ``cores_used`` = CPU / wall (how much of the machine
the contender really had):

* wall: updates per wall second, what a run gets on this machine now;
* cpu: per CPU second of the whole process (all its threads), its work per core-second,
  which other processes' turns do not inflate;
* critical: per CPU second of its busiest thread (``/proc/self/task/*/schedstat``, OpenMP
  workers included): the rate if every thread had a core of its own; for a multi-threaded
  contender an upper bound on what two idle cores would give (waits between threads are not
  counted), for a single-threaded one the same as ``cpu``.

The summary compares the project's best against the reference at its best thread count on
each clock and, for IQL, gives the fraction of the ~190 updates/s two-core floor (DESIGN.md)
and of a floor measured here: one update's matmul FLOPs at this machine's sgemm rate.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from jsrl_bench.learner.reference_learners import ReferenceIQL, ReferenceQTOpt
from jsrl_learning.buffers import Batch, ReplayBuffer
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.iql import IQLConfig, IQLLearner
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner

IQL_OBS = {"antmaze_d4rl": 29, "antmaze_ours": 31}
IQL_ACTIONS = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)
QTOPT_SPACES = {
    "state": gym.spaces.Box(-1.0, 1.0, (46,), np.float32),
    "image": gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (64, 64, 3), np.uint8),
                              "proprio": gym.spaces.Box(-1.0, 1.0, (7,), np.float32)}),
}
QTOPT_ACTIONS = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
FLOOR_UPDATES_PER_S = 190.0  # IQL, 2 cores (DESIGN.md: ~556 MFLOP per update at MKL's rate)
N_BATCHES = 4  # distinct batches cycled through, so no update sees the last one's data in cache


@dataclass
class LearnerBenchSettings:
    """What to time and for how long. ``qtopt_variants``: name -> QT-Opt config overrides."""

    iql_obs: dict[str, int] = field(default_factory=lambda: dict(IQL_OBS))
    iql_batch_size: int = 256
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    compile: bool = True
    qtopt_obs: list[str] = field(default_factory=lambda: ["state", "image"])
    qtopt_batch_sizes: list[int] = field(default_factory=lambda: [256])
    qtopt_variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {}})
    threads: list[int] = field(default_factory=lambda: [1, 2])
    rounds: int = 5
    round_seconds: float = 1.5


# QT-Opt as the grasp bench runs it (config/grasp_*.yaml): smaller critic, one-pass target search, close branch.
GRASP_BENCH_QTOPT = {"hidden": [128, 128], "target_cem": {"n_samples": 16, "n_iters": 1, "n_elites": 1},
                     "close_dim": 4}
FULL = LearnerBenchSettings(qtopt_batch_sizes=[256, 128, 64],
                            qtopt_variants={"default": {}, "grasp_bench": GRASP_BENCH_QTOPT})
QUICK = LearnerBenchSettings(qtopt_obs=["state"], rounds=3, round_seconds=1.0)


@dataclass
class Contender:
    """One way of running updates: an implementation at a thread setting."""

    learner: str
    case: str
    impl: str
    torch_threads: int
    update: Callable[[Batch], Any]
    update_threads: int = 1
    compile: bool = False
    setup: Callable[[], None] = lambda: None  # applied before each round (e.g. the learner's update_threads)
    rounds: list[dict[str, float]] = field(default_factory=list)
    warmup: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        threads = f"{self.torch_threads} torch thread{'s' if self.torch_threads > 1 else ''}"
        if self.update_threads > 1:
            threads += f" x {self.update_threads} update threads"
        return f"{self.impl}{' (compiled)' if self.compile else ''}, {threads}"


def random_batches(space: gym.Space, actions: gym.spaces.Box, batch_size: int, seed: int) -> list[Batch]:
    """Batches sampled from a replay of random transitions (uint8 images stay uint8)."""
    buffer = ReplayBuffer.for_spaces(batch_size * N_BATCHES, space, actions)
    space.seed(seed)
    actions.seed(seed)
    for _ in range(buffer.capacity):
        buffer.add(space.sample(), actions.sample(), float(space.np_random.random() < 0.1), space.sample(), False)
    rng = np.random.default_rng(seed)
    return [buffer.sample(batch_size, rng) for _ in range(N_BATCHES)]


def mlp_flops(dims: list[int], batch: int, backward: bool) -> int:
    """Matmul FLOPs of an MLP ``dims[0] -> ... -> dims[-1]`` on ``batch`` rows; the backward pass
    computes every weight gradient and the input gradients of all but the first layer."""
    per_layer = [2 * batch * a * b for a, b in zip(dims[:-1], dims[1:])]
    if not backward:
        return sum(per_layer)
    return 2 * sum(per_layer) + sum(per_layer[1:])


def iql_flops(obs_dim: int, act_dim: int, hidden: list[int], batch: int) -> int:
    """One IQL update: target twin Q, V(s), V(s'), the actor and twin Q forward; Q, V, actor backward."""
    q, v, actor = [obs_dim + act_dim, *hidden, 1], [obs_dim, *hidden, 1], [obs_dim, *hidden, act_dim]
    return (2 * mlp_flops(q, batch, False) + mlp_flops(v, batch, False)
            + 2 * mlp_flops(q, batch, True) + mlp_flops(v, batch, True) + mlp_flops(actor, batch, True))


def sgemm_gflops(size: int = 256, seconds: float = 1.0) -> float:
    """Single-thread float32 matmul rate per CPU second (best of short rounds)."""
    with_threads(1)
    a, b, out = torch.randn(size, size), torch.randn(size, size), torch.empty(size, size)
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.process_time()
        for _ in range(20):
            torch.mm(a, b, out=out)
        best = min(best, (time.process_time() - start) / 20)
    return 2 * size ** 3 / best / 1e9


def with_threads(n: int) -> None:
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _timed(fn: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def thread_cpu_ns() -> dict[int, int]:
    """Nanoseconds each thread of this process (OpenMP workers included) has run on a CPU, from
    ``/proc/self/task/*/schedstat``; empty where the kernel does not provide it."""
    times = {}
    try:
        tasks = list(os.scandir("/proc/self/task"))
    except OSError:
        return {}
    for task in tasks:
        try:
            with open(os.path.join(task.path, "schedstat")) as f:
                times[int(task.name)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):  # the thread ended meanwhile, or no schedstat
            continue
    return times


def busiest_thread_s(before: dict[int, int], after: dict[int, int]) -> float | None:
    """CPU seconds of the thread that ran most between two :func:`thread_cpu_ns` snapshots."""
    deltas = [ns - before.get(tid, 0) for tid, ns in after.items()]
    return max(deltas) / 1e9 if deltas and max(deltas) > 0 else None


def run_rounds(contenders: list[Contender], batches: list[Batch], settings: LearnerBenchSettings) -> None:
    """Warm every contender up (compiling, first-call allocations), then time them in
    interleaved rounds of ``round_seconds`` (at least 3 updates) each."""
    for c in contenders:
        with_threads(c.torch_threads)
        c.setup()
        c.warmup = _timed(lambda: [c.update(b) for b in batches])
    for _ in range(settings.rounds):
        for c in contenders:
            with_threads(c.torch_threads)
            c.setup()
            threads0 = thread_cpu_ns()
            n, wall0, cpu0, load = 0, time.perf_counter(), time.process_time(), os.getloadavg()[0]
            while n < 3 or time.perf_counter() - wall0 < settings.round_seconds:
                c.update(batches[n % len(batches)])
                n += 1
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            c.rounds.append({"updates": n, "wall_s": wall, "cpu_s": cpu, "load_avg": load,
                             "busiest_thread_cpu_s": busiest_thread_s(threads0, thread_cpu_ns())})


def contender_row(c: Contender, extra: dict[str, Any]) -> dict[str, Any]:
    wall = statistics.median(r["updates"] / r["wall_s"] for r in c.rounds)
    cpu = statistics.median(r["updates"] / r["cpu_s"] for r in c.rounds)
    busiest = [r["busiest_thread_cpu_s"] for r in c.rounds]
    critical = statistics.median(r["updates"] / t for r, t in zip(c.rounds, busiest)) if all(busiest) else None
    return {"learner": c.learner, "case": c.case, **extra, "impl": c.impl, "name": c.name,
            "torch_threads": c.torch_threads, "update_threads": c.update_threads,
            "cores": c.torch_threads * c.update_threads, "compile": c.compile,
            "updates": sum(r["updates"] for r in c.rounds),
            "updates_per_s_wall": wall, "updates_per_s_cpu": cpu, "updates_per_s_critical": critical,
            "cores_used": statistics.median(r["cpu_s"] / r["wall_s"] for r in c.rounds),
            "load_avg": statistics.median(r["load_avg"] for r in c.rounds),
            "warmup_wall_s": c.warmup["wall_s"], "warmup_cpu_s": c.warmup["cpu_s"], "rounds": c.rounds}


def best(rows: list[dict[str, Any]], impl: str, key: str, max_cores: int = 2) -> dict[str, Any]:
    return max((r for r in rows if r["impl"] == impl and r["cores"] <= max_cores), key=lambda r: r[key])


def summarise(rows: list[dict[str, Any]], floor_cpu: float | None) -> dict[str, Any]:
    """Project vs reference, each at its best setting, on every clock measured; for IQL, the
    fractions of the 2-core floor (wall and critical-thread clocks) and of the sgemm floor (CPU)."""
    clocks = ["wall", "cpu"] + (["critical"] if all(r["updates_per_s_critical"] for r in rows) else [])
    summary: dict[str, Any] = {}
    for clock in clocks:
        key = f"updates_per_s_{clock}"
        ref, proj = best(rows, "reference", key), best(rows, "project", key)
        summary.update({f"reference_best_{clock}": {"name": ref["name"], "updates_per_s": ref[key]},
                        f"project_best_{clock}": {"name": proj["name"], "updates_per_s": proj[key]},
                        f"speedup_{clock}": proj[key] / ref[key]})
    if floor_cpu is not None:
        summary.update({f"fraction_of_floor_{clock}": summary[f"project_best_{clock}"]["updates_per_s"]
                        / FLOOR_UPDATES_PER_S for clock in clocks if clock != "cpu"})
        summary.update({"floor_updates_per_s": FLOOR_UPDATES_PER_S, "gemm_floor_updates_per_cpu_s": floor_cpu,
                        "fraction_of_gemm_floor_cpu": summary["project_best_cpu"]["updates_per_s"] / floor_cpu})
    return summary


def iql_contenders(case: str, obs_dim: int, settings: LearnerBenchSettings) -> list[Contender]:
    obs_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    config = IQLConfig(hidden=list(settings.hidden), reward_shift=-1.0,
                       compile=settings.compile, compile_after=0)
    project = IQLLearner(config, obs_space, IQL_ACTIONS)
    reference = ReferenceIQL.from_learner(project)

    def uses(update_threads: int) -> Callable[[], None]:
        return lambda: setattr(config, "update_threads", update_threads)  # one compiled learner, two schedules

    contenders = [Contender("iql", case, "reference", t, reference.update) for t in settings.threads]
    contenders += [Contender("iql", case, "project", t, project.update, 1, settings.compile, uses(1))
                   for t in settings.threads]
    contenders.append(Contender("iql", case, "project", 1, project.update, 2, settings.compile, uses(2)))
    return contenders


def qtopt_contenders(case: str, space: gym.Space, variant: dict[str, Any], settings: LearnerBenchSettings,
                     where: str) -> list[Contender]:
    config = from_mapping(QTOptConfig, {"hidden": list(settings.hidden), **variant}, where)
    project = QTOptLearner(config, space, QTOPT_ACTIONS)
    reference = ReferenceQTOpt.from_learner(project)
    return [Contender("qtopt", case, impl, t, learner.update)
            for impl, learner in (("reference", reference), ("project", project)) for t in settings.threads]


def run_learner_bench(settings: LearnerBenchSettings, report: Callable[[dict[str, Any]], None] = lambda row: None,
                      ) -> dict[str, Any]:
    """Time every case; ``report`` sees each contender's row as its case finishes."""
    started, load_start = time.perf_counter(), os.getloadavg()
    gflops = sgemm_gflops()
    rows: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []

    def run_case(contenders: list[Contender], batches: list[Batch], extra: dict[str, Any],
                 floor_cpu: float | None) -> None:
        run_rounds(contenders, batches, settings)
        case_rows = [contender_row(c, extra) for c in contenders]
        for row in case_rows:
            report(row)
        rows.extend(case_rows)
        summaries.append({"learner": contenders[0].learner, "case": contenders[0].case, **extra,
                          **summarise(case_rows, floor_cpu)})

    act_dim = IQL_ACTIONS.shape[0]
    for case, obs_dim in settings.iql_obs.items():
        space = gym.spaces.Box(-1.0, 1.0, (obs_dim,), np.float32)
        flops = iql_flops(obs_dim, act_dim, settings.hidden, settings.iql_batch_size)
        run_case(iql_contenders(case, obs_dim, settings), random_batches(space, IQL_ACTIONS, settings.iql_batch_size, 0),
                 {"obs_dim": obs_dim, "batch_size": settings.iql_batch_size, "flops_per_update": flops},
                 gflops * 1e9 / flops)
    for variant_name, variant in settings.qtopt_variants.items():
        for obs in settings.qtopt_obs:
            if obs not in QTOPT_SPACES:
                raise ConfigError(f"learner bench: unknown QT-Opt observation {obs!r}; known: {sorted(QTOPT_SPACES)}")
            for batch_size in settings.qtopt_batch_sizes:
                contenders = qtopt_contenders(f"{obs}/{variant_name}", QTOPT_SPACES[obs], variant, settings,
                                              f"learner bench variant {variant_name}")
                run_case(contenders, random_batches(QTOPT_SPACES[obs], QTOPT_ACTIONS, batch_size, 0),
                         {"obs": obs, "variant": variant_name, "batch_size": batch_size}, None)
    return {
        "meta": {"command": " ".join(sys.argv), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                 "machine": platform.processor() or platform.machine(), "settings": asdict(settings),
                 "sgemm_gflops_per_cpu_s": gflops, "load_avg_start": list(load_start),
                 "load_avg_end": list(os.getloadavg()), "wall_s": time.perf_counter() - started},
        "results": rows,
        "summary": summaries,
    }


def format_row(row: dict[str, Any]) -> str:
    where = f"obs {row['obs_dim']}" if row["learner"] == "iql" else f"{row['obs']} {row['variant']}"
    critical = row["updates_per_s_critical"]
    return (f"{row['learner']:>5} {where:<15} batch {row['batch_size']:>3}  {row['name']:<52} "
            f"{row['updates_per_s_wall']:6.1f}/s wall {row['updates_per_s_cpu']:6.1f}/CPU-s "
            f"{'-' if critical is None else f'{critical:6.1f}'}/busiest-thread-s  "
            f"cores used {row['cores_used']:.2f}  load {row['load_avg']:.1f}")


def format_table(result: dict[str, Any]) -> str:
    lines = [format_row(row) for row in result["results"]]
    for s in result["summary"]:
        where = f"obs {s['obs_dim']}" if s["learner"] == "iql" else f"{s['obs']} {s['variant']}"
        speedups = ", ".join(f"x{s[f'speedup_{clock}']:.2f} {clock} ({s[f'project_best_{clock}']['name']} vs "
                             f"{s[f'reference_best_{clock}']['name']})"
                             for clock in ("wall", "cpu", "critical") if f"speedup_{clock}" in s)
        lines.append(f"{s['learner']} {where} batch {s['batch_size']}: project/reference {speedups}")
        if "floor_updates_per_s" in s:
            floors = ", ".join(f"{s[f'fraction_of_floor_{clock}']:.0%} ({clock})" for clock in ("wall", "critical")
                               if f"fraction_of_floor_{clock}" in s)
            lines.append(f"    of the {s['floor_updates_per_s']:.0f}/s 2-core floor: {floors}; "
                         f"{s['fraction_of_gemm_floor_cpu']:.0%} of this machine's sgemm floor "
                         f"({s['gemm_floor_updates_per_cpu_s']:.0f}/CPU-s)")
    meta = result["meta"]
    lines.append(f"sgemm {meta['sgemm_gflops_per_cpu_s']:.0f} GFLOP/CPU-s; load average {meta['load_avg_start'][0]:.1f} "
                 f"-> {meta['load_avg_end'][0]:.1f} on {meta['cpu_count']} CPUs; {meta['wall_s']:.0f} s")
    return "\n".join(lines)


def write_result(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
