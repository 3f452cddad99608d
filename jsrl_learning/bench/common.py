"""Pieces every learning benchmark shares: seeds, online runs, worker processes, a job queue, JSON,
curves, table rows.

A benchmark is a set of jobs (build data, pre-train, one online run per method and seed)
whose results arrive in any order; each finished job may queue follow-ups. Jobs run in
worker processes with one torch thread each (two processes on two cores beat two threads in
one, and threads collapse next to other work: DESIGN.md), or inline for ``workers == 1``.
Results are written atomically after every job, so a killed run keeps what it finished, and
a failing job is recorded rather than raised: one broken run must not end a sweep of hours.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from jsrl_learning.config import ConfigError
from jsrl_learning.rollout import evaluate
from jsrl_learning.trainer import JSRLTrainer, TrainConfig


JSRL_METHODS = ("jsrl", "jsrl_random")  # the sweeps' JSRL methods (curriculum, random), by the same names


class Job(NamedTuple):
    """A function to run in a worker, its (picklable) arguments, and what the job is (its cell,
    seed, stage or method: the fields of its failure record). The function returns a JSON-ready dict."""

    fn: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    about: Mapping[str, Any]


def derive_seed(seed: int, stream: int) -> int:
    """An independent 32-bit seed per (bench seed, stream): the learner, env episodes, data, ..."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def default_config_path(name: str) -> Path:
    """``config/<name>`` from the source tree, or from an installed ``share/jsrl_ros/config``."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / name,
                  Path(sys.prefix) / "share" / "jsrl_ros" / "config" / name]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(f"bench config {name} not found in {', '.join(map(str, candidates))}; pass --config")


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` whole (temp file + rename): a reader never sees half a result."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)


class EvalRecorder:
    """A trainer callback (TrainLogger) that keeps the evaluations, for learning curves, and the
    guide's success over the rollouts that estimated H1 (None unless the curriculum estimated it)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.guide_success: float | None = None

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        if "curriculum/guide_success_rate" in scalars:
            self.guide_success = scalars["curriculum/guide_success_rate"]
        if "eval/explorer_success_rate" in scalars:
            self.rows.append({"step": step, **{k: float(v) for k, v in scalars.items()}})

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.rows]


def online_run(config: TrainConfig, final_eval_episodes: int, final_eval_seed: int) -> dict[str, Any]:
    """Train one run, then score its explorer alone (no guide steps) over the final episodes (reset
    seeds from ``final_eval_seed``, the same for every method and seed): its final success, the
    trainer's evaluation curve, the curriculum's course, the counts and the job's clocks."""
    start, cpu = time.perf_counter(), time.process_time()
    recorder = EvalRecorder()
    trainer = JSRLTrainer(config, callbacks=[recorder])
    trainer.train()
    greedy = lambda obs: trainer.learner.act(obs, explore=False)  # noqa: E731
    final = evaluate(trainer.eval_env, trainer.guide, greedy, 0, final_eval_episodes, final_eval_seed)
    return {"success": final.success_rate, "mean_length": final.mean_length,
            "curve": {"steps": recorder.column("step"),
                      "explorer_success": recorder.column("eval/explorer_success_rate"),
                      "combined_success": recorder.column("eval/combined_success_rate"),
                      "guide_steps": recorder.column("eval/guide_steps")},
            "h1": trainer.h1, "guide_success_h1_rollouts": recorder.guide_success,
            "stages": trainer.curriculum.stages, "final_stage": trainer.curriculum.stage,
            "final_guide_step": trainer.curriculum.guide_step, "env_steps": trainer.env_steps,
            "episodes": trainer.episodes, "updates": trainer.learning.updates,
            "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def init_worker() -> None:
    """One torch thread per worker process; libraries' warnings stay out of the bench's log."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")


class InlineExecutor(Executor):
    """Runs each job at submission in this process (workers = 1: tests, debugging), one torch thread."""

    def __init__(self) -> None:
        torch.set_num_threads(1)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # surfaced by future.result(), as a process pool would
            future.set_exception(exc)
        return future


def make_executor(workers: int) -> Executor:
    """``workers`` spawned processes (one torch thread each), or inline for 1."""
    if workers == 1:
        return InlineExecutor()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker)


def failure_record(about: Mapping[str, Any], error: Exception) -> dict[str, Any]:
    """A failed job's result: what it was and its error (its wall and CPU time count as none)."""
    return {"job": "failed", **about, "error": f"{type(error).__name__}: {error}", "wall_s": 0.0, "cpu_s": 0.0}


def job_name(result: Mapping[str, Any]) -> str:
    """What a finished job ran: its method, or the stage (e.g. ``dataset``) of a job that has none.
    A failure record's ``method`` comes from its job's ``about``, so it names the same."""
    return result.get("method", result["job"])


def failures(jobs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The failed jobs of a result, each as what it was and its error."""
    return [{k: v for k, v in job.items() if k not in ("job", "wall_s", "cpu_s")} for job in jobs
            if job["job"] == "failed"]


def run_jobs(executor: Executor, first: Iterable[Job], on_done: Callable[[dict[str, Any]], Sequence[Job]]) -> None:
    """Run ``first`` and whatever ``on_done(result)`` queues after each finished job, until none is left.

    The pool runs jobs in submission order, so queuing a stage's follow-ups as it finishes keeps
    early cells ahead of later ones (an interrupted run has whole cells rather than a bit of each).
    A job that raises is handed to ``on_done`` as its ``failure_record`` and the run goes on; an
    interrupt (or an error of ``on_done``) cancels the queued jobs (running ones finish) and is raised.
    """
    with executor:
        pending = {executor.submit(job.fn, *job.args): job for job in first}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    about = pending.pop(future).about
                    try:
                        result = future.result()
                    except Exception as error:  # noqa: BLE001  (recorded in the JSON and reported, never swallowed)
                        result = failure_record(about, error)
                    pending |= {executor.submit(job.fn, *job.args): job for job in on_done(result)}
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def mean_curves(curves: Sequence[Sequence[float]]) -> tuple[list[float], int]:
    """The seeds' curves cut to the shortest and averaged point by point; also that length."""
    n = min((len(c) for c in curves), default=0)
    if n == 0:
        return [], 0
    return np.mean([list(c)[:n] for c in curves], axis=0).tolist(), n


def table_rows(result: Mapping[str, Any], metric: str, seed_format: str
               ) -> Iterator[tuple[Mapping[str, Any], str, Mapping[str, Any], str]]:
    """Per cell and method of a sweep's result: the cell, the method, its entry, and the row's tail:
    the seeds' ``metric`` (``seed_format``) and, for the JSRL methods, each seed's final guide-step."""
    for cell in result["results"]:
        for method, entry in cell["methods"].items():
            tail = " ".join(seed_format.format(v) for v in entry[metric + "_per_seed"])
            if method in JSRL_METHODS:
                tail += "  final h " + ",".join(str(r["final_guide_step"]) for r in entry["runs"])
            yield cell, method, entry, tail
