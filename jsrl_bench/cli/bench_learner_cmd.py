"""``jsrl bench learner``: updates/s of the project's IQL and QT-Opt next to plain-PyTorch references.

    jsrl bench learner --out results/learner_speed.json [--quick]
    jsrl bench learner --out qtopt.json --no-iql --variant target_cem_16x1='{"target_cem": {"n_samples": 16, "n_iters": 1, "n_elites": 4}}'

The result JSON holds every contender's rates (wall and CPU clock), the load average, and per
case the project's speed-up over the reference at its best thread count (docs/learner_speed.md).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from jsrl_bench.cli.bench_common import json_out
from jsrl_learning.cli.arg_types import positive_float, positive_int
from jsrl_learning.config import ConfigError

HELP = "learner speed: IQL and QT-Opt updates/s vs straightforward PyTorch references, 1 and 2 threads"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--quick", action="store_true", help="3 short rounds, QT-Opt on the state space only")
    p.add_argument("--rounds", type=positive_int, help="timed rounds per contender (default 5, --quick 3)")
    p.add_argument("--round-seconds", type=positive_float, help="wall seconds per round (default 1.5, --quick 1)")
    p.add_argument("--no-compile", action="store_true", help="time the project's IQL without torch.compile")
    p.add_argument("--no-iql", action="store_true", help="QT-Opt only")
    p.add_argument("--qtopt-obs", nargs="+", choices=["state", "image"], help="QT-Opt observation spaces")
    p.add_argument("--qtopt-batch-sizes", type=int, nargs="+", help="default 256 64 (--quick: 256)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="a QT-Opt config (JSON mapping) to time besides the default")


def run(args: argparse.Namespace) -> int:
    from jsrl_bench.learner.bench import FULL, QUICK, format_row, format_table, run_learner_bench, write_result

    out = json_out(args.out)
    settings = QUICK if args.quick else FULL
    variants = dict(settings.qtopt_variants)
    for spec in args.variant:
        name, sep, text = spec.partition("=")
        try:
            variants[name] = json.loads(text) if sep else None
        except json.JSONDecodeError as error:
            raise ConfigError(f"--variant {name}: not JSON ({error})") from error
        if not name or not isinstance(variants[name], dict):
            raise ConfigError(f"--variant must be NAME=JSON mapping, got {spec!r}")
    overrides = {"qtopt_variants": variants, "compile": not args.no_compile}
    for key in ("rounds", "round_seconds", "qtopt_obs", "qtopt_batch_sizes"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.no_iql:
        overrides["iql_obs"] = {}
    settings = replace(settings, **overrides)
    started = time.perf_counter()
    print(f"learner bench: IQL obs {list(settings.iql_obs.values())}, QT-Opt {settings.qtopt_obs} x "
          f"batch {settings.qtopt_batch_sizes} x variants {list(variants)}; threads {settings.threads}, "
          f"{settings.rounds} rounds of {settings.round_seconds} s", flush=True)
    result = run_learner_bench(settings, lambda row: print(format_row(row), flush=True))
    write_result(result, out)
    print(format_table(result))
    print(f"wall clock {time.perf_counter() - started:.0f} s\nresults: {out}")
    return 0
