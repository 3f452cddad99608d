"""What the ``jsrl bench`` commands share: a ``--out`` JSON path, and for the sweeps (grasp,
antmaze) the skeleton around their bench: ``config/bench/<bench>_{quick,full}.yaml`` or ``--config``,
``--workers`` and ``--seeds`` over it, ``--fresh`` (else an existing ``--out`` is resumed), ``--merge``
(the results of parts run elsewhere), a work dir beside the JSON, the closing table and totals."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, Protocol, TypeVar

from jsrl_learning.cli.arg_types import non_negative_int
from jsrl_learning.config import ConfigError


class SweepConfig(Protocol):
    workers: int
    seeds: list[int]

    def validate(self, where: str) -> None: ...


Config = TypeVar("Config", bound=SweepConfig)


def json_out(text: str) -> Path:
    """``--out`` as a path; it must name a .json file."""
    out = Path(text)
    if out.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {out}")
    return out


def add_sweep_arguments(p: argparse.ArgumentParser, bench: str, quick: str, work: str, plots: str) -> None:
    """``--quick``/``--config``/``--out``/``--workers``/``--work-dir``; ``quick``: what the quick config
    runs, ``work``: what the work dir holds, ``plots``: "plot" or "plots" (written beside the JSON)."""
    p.add_argument("--quick", action="store_true", help=f"config/bench/{bench}_quick.yaml ({quick})")
    p.add_argument("--config", help=f"bench YAML (default: config/bench/{bench}_full.yaml, or {bench}_quick.yaml with --quick)")
    p.add_argument("--out", required=True, help=f"result JSON, rewritten after every finished job; {plots} beside it")
    p.add_argument("--workers", type=int, help="worker processes, one torch thread each (overrides the config)")
    p.add_argument("--seeds", type=non_negative_int, nargs="+", metavar="SEED",
                   help="bench seeds to run and summarise (overrides the config's seeds)")
    p.add_argument("--work-dir", help=f"{work} (default: <out without .json>_work)")
    p.add_argument("--fresh", action="store_true",
                   help="start over even if --out exists (by default a re-run with the same settings, but seeds "
                        "and workers, keeps its finished jobs and runs only the missing ones)")
    p.add_argument("--merge", type=Path, nargs="+", default=[], metavar="RESULT_JSON",
                   help="also keep the finished jobs of these results of the same sweep (parts run elsewhere, e.g. "
                        "other seeds on a GPU machine); --out's own record of a job wins. With every job of --seeds "
                        "in them, nothing runs and --out gets the merged summary")


@dataclass(frozen=True)
class Sweep(Generic[Config]):
    """A sweep ready to run: its settings (``--workers``, ``--seeds`` applied), where they came from, its
    output paths, whether to start over (``--fresh``) rather than resume ``out``, and the results to merge in."""

    cfg: Config
    config_path: Path
    out: Path
    work_dir: Path
    fresh: bool
    merge: tuple[Path, ...] = ()

    @property
    def settings_extra(self) -> dict[str, Any]:
        """What the result JSON's settings add to the config's fields."""
        return {"config_file": str(self.config_path)}


def open_sweep(args: argparse.Namespace, bench: str, load_bench_config: Callable[[Path], Config]) -> Sweep[Config]:
    """The sweep the arguments ask for; a bad ``--out``, config, ``--workers`` or ``--seeds`` is a ConfigError naming it."""
    from jsrl_bench.sweep.common import default_config_path  # torch: only once a bench runs

    out = json_out(args.out)
    config_path = Path(args.config) if args.config else default_config_path(
        f"{bench}_{'quick' if args.quick else 'full'}.yaml")
    cfg = load_bench_config(config_path)
    if args.workers is not None:
        cfg.workers = args.workers
    if args.seeds is not None:
        cfg.seeds = list(args.seeds)
    if args.workers is not None or args.seeds is not None:
        cfg.validate(f"{config_path} with --workers/--seeds")
    out.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(args.work_dir) if args.work_dir else out.with_name(out.stem + "_work")
    return Sweep(cfg, config_path, out, work_dir, args.fresh, tuple(args.merge))


def job_cost(job: Mapping[str, Any]) -> str:
    """A finished job's clocks for its log line; an online run's also give its collecting and learning
    alone per env step (the part a speed budget per env step is about: evaluations excluded)."""
    cost = f"{job['wall_s']:.0f} s" + (f", {job['cpu_s']:.0f} CPU s" if "cpu_s" in job else "")
    parts = job.get("cpu_s_parts") or {}
    if "collect_and_learn" in parts and job.get("env_steps"):
        cost += (f"; collecting and learning {parts['collect_and_learn']:.0f} CPU s = "
                 f"{1000 * parts['collect_and_learn'] / job['env_steps']:.1f} ms per env step")
    return cost


def print_result(result: Mapping[str, Any], out: Path, table: str, plots: str) -> None:
    """The table, the sweep's wall clock and its jobs' CPU time (reused jobs' included), how many jobs
    an earlier run had finished, and where the results and ``plots`` are."""
    print(table)
    reused = f", {result['jobs_reused']} of the jobs kept from the earlier run" if result["jobs_reused"] else ""
    print(f"wall clock {result['wall_s']:.0f} s, jobs' CPU {result['jobs_cpu_s']:.0f} s{reused}\n"
          f"results: {out}\n{plots}")
