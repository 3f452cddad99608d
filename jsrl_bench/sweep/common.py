"""Pieces every learning benchmark shares: seeds, online runs, worker processes, a job queue that
resumes, JSON, curves aligned over seeds, the summary's online entries and the table.

A benchmark is a set of jobs (build data, pre-train, one online run per method and seed)
whose results arrive in any order; each finished job may queue follow-ups. Jobs run in
worker processes with one torch thread each (two processes on two cores beat two threads in
one, and threads collapse next to other work: DESIGN.md), or inline for ``workers == 1``.
Results are written atomically after every job, so a killed run keeps what it finished, and
a failing job is recorded rather than raised: one broken run must not end a sweep of hours.
The JSON keeps every job's raw record (``jobs``), so a re-run with the same settings keeps the
finished jobs and runs only the missing ones (``run_sweep``), and the records of parts run
elsewhere (other seeds on another machine) can be merged in.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from jsrl_learning.config import ConfigError
from jsrl_learning.rollout import evaluate
from jsrl_learning.trainer import JSRLTrainer, TrainConfig

RESULT_FORMAT = 2  # the sweeps' JSON layout; 2 added the raw job records that resuming reads
RESUME_FREE_SETTINGS = ("seeds", "workers", "config_file")  # may differ when resuming (which jobs, how fast, from where)
#: Sweep config keys renamed so that a key says its unit (issue 12); an old name in a config is an error naming the new.
RENAMED_SETTINGS = {"eval_every": "eval_every_steps", "stages": "n_stages"}
THRESHOLDS = (0.5, 0.8)  # success rates whose first env step the summary reports (``steps_to_<x>``)
RUN_KEYS = ("seed", "h1", "guide_success_h1_rollouts", "stages", "final_stage", "final_guide_step", "mean_length", "env_steps",
            "episodes", "updates", "wall_s", "cpu_s")  # an online run's numbers the summary's ``runs`` repeat


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
    """``config/bench/<name>`` from the source tree, or from an installed ``share/jsrl_ros/config/bench``."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / "bench" / name,
                  Path(sys.prefix) / "share" / "jsrl_ros" / "config" / "bench" / name]
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
    """Train one run, then score it over the final episodes (reset seeds from ``final_eval_seed``, the
    same for every method and seed) twice: the explorer alone (h = 0: the deployable policy, ``success``)
    and the combined policy at the curriculum's final h (``combined_success``: what JSRL's own
    evaluations scored; the same policy when the final h is 0). Also the trainer's evaluation curve,
    the curriculum's course, the counts and the job's clocks (``cpu_s_parts``: the trainer's CPU per
    part, so the cost of collecting and learning reads apart from the evaluations')."""
    start, cpu = time.perf_counter(), time.process_time()
    recorder = EvalRecorder()
    trainer = JSRLTrainer(config, callbacks=[recorder])
    trainer.train()
    greedy = lambda obs: trainer.learner.act(obs, explore=False)  # noqa: E731
    h = trainer.curriculum.guide_step
    with trainer.cpu.part("final_evaluation"):
        final = evaluate(trainer.eval_env, trainer.guide, greedy, 0, final_eval_episodes, final_eval_seed)
        combined = final if h == 0 else evaluate(trainer.eval_env, trainer.guide, greedy, h, final_eval_episodes,
                                                 final_eval_seed)
    return {"success": final.success_rate, "mean_length": final.mean_length,
            "combined_success": combined.success_rate, "combined_mean_length": combined.mean_length,
            "final_guide_step": h,
            "curve": {"steps": recorder.column("step"),
                      "explorer_success": recorder.column("eval/explorer_success_rate"),
                      "combined_success": recorder.column("eval/combined_success_rate"),
                      "guide_steps": recorder.column("eval/guide_steps")},
            "h1": trainer.h1, "guide_success_h1_rollouts": recorder.guide_success,
            "stages": trainer.curriculum.stages, "final_stage": trainer.curriculum.stage,
            "env_steps": trainer.env_steps, "episodes": trainer.episodes, "updates": trainer.learning.updates,
            "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "cpu_s_parts": dict(trainer.cpu.seconds)}


def init_worker() -> None:
    """One torch thread per worker process; libraries' warnings and stdout stay out of the bench's log.

    A worker's results travel back pickled and the main process prints the reports, so the worker's
    stdout carries only noise, such as C libraries' printf (pybullet prints ``argv[0]=`` on a
    connect with an ``options`` string; the grasping scene's ``DirectClient`` passes none). stderr
    stays: tracebacks and errors go there (and pybullet's one ``build time`` line per process).
    """
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the file descriptor, not just sys.stdout: the prints come from C
    os.close(devnull)


class InlineExecutor(Executor):
    """Runs each job at submission in this process (workers = 1: a sweep beside other work, tests), one torch
    thread; run_jobs submits one job at a time to it, so each is recorded before the next one runs."""

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
    return [{k: v for k, v in job.items() if k not in ("job", "wall_s", "cpu_s", "finished_at")} for job in jobs
            if job["job"] == "failed"]


def run_jobs(executor: Executor, first: Iterable[Job], on_done: Callable[[dict[str, Any]], Sequence[Job]],
             reuse: Callable[[Job], dict[str, Any] | None] = lambda job: None, slots: int = 1) -> None:
    """Run ``first`` and whatever ``on_done(result)`` queues after each finished job, until none is left.

    Jobs start in queue order, at most ``slots`` at a time (the pool's workers), so queuing a stage's
    follow-ups as it finishes keeps early cells ahead of later ones (an interrupted run has whole cells
    rather than a bit of each), and ``on_done`` hears of every finished job before another one starts
    in its slot: with the inline executor, which runs a job as it is submitted, a job is recorded
    before the next one runs, not after the whole sweep.
    A job for which ``reuse`` returns an earlier record is not run: the record goes to ``on_done``
    as if the job had just finished (its follow-ups are queued, or reused, the same way).
    A job that raises is handed to ``on_done`` as its ``failure_record`` and the run goes on; an
    interrupt (or an error of ``on_done``) cancels the queued jobs (running ones finish) and is raised.
    """
    queue = deque(first)
    with executor:
        pending: dict[Future, Job] = {}

        def fill() -> None:
            while queue and len(pending) < slots:
                job = queue.popleft()
                record = reuse(job)
                if record is None:
                    pending[executor.submit(job.fn, *job.args)] = job
                else:
                    queue.extend(on_done(record))

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    about = pending.pop(future).about
                    try:
                        result = future.result()
                    except Exception as error:  # noqa: BLE001  (recorded in the JSON and reported, never swallowed)
                        result = failure_record(about, error)
                    queue.extend(on_done(result))
                fill()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


# ----- resuming -------------------------------------------------------------------------------


def job_key(cell: Mapping[str, Any], seed: int | None, name: str) -> str:
    """What identifies a job across runs of a sweep: its cell, bench seed (none for a cell's dataset) and
    name. A record's ``seed`` must therefore be its bench seed, and only per-seed jobs may have one."""
    return json.dumps([cell, seed, name], sort_keys=True)


def record_key(record: Mapping[str, Any]) -> str:
    return job_key(record["cell"], record.get("seed"), job_name(record))


def sweep_settings(cfg: Any, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The result's ``settings``: the bench config's fields and what the caller adds (its file)."""
    return {**asdict(cfg), **(extra or {})}


FRESH_HINT = "pass --fresh to start over, or choose another --out"


def earlier_jobs(out: Path, benchmark: str, settings: Mapping[str, Any],
                 fresh: str = FRESH_HINT) -> list[dict[str, Any]]:
    """The finished (not failed) job records of the sweep already at ``out``, none if there is none.

    A result with other settings (but for ``RESUME_FREE_SETTINGS``) is refused, naming the keys:
    mixing runs of two settings in one summary would compare unlike with unlike. A result written
    before a key was renamed (``RENAMED_SETTINGS``) is read in today's names. ``fresh``: what the
    error tells the user to do instead.
    """
    if not out.exists():
        return []
    try:
        old = json.loads(out.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{out}: exists but is not a result JSON ({error}); {fresh}") from error
    if old.get("benchmark") != benchmark or old.get("format") != RESULT_FORMAT or "jobs" not in old:
        raise ConfigError(f"{out}: not a {benchmark} sweep result of format {RESULT_FORMAT} (no job records to "
                          f"resume from); {fresh}")
    theirs = {RENAMED_SETTINGS.get(k, k): v for k, v in old["settings"].items()}
    mine, theirs = (json.loads(json.dumps(s)) for s in (settings, theirs))
    differ = sorted(k for k in mine.keys() | theirs.keys()
                    if k not in RESUME_FREE_SETTINGS and mine.get(k, "<unset>") != theirs.get(k, "<unset>"))
    if differ:
        raise ConfigError(f"{out}: holds a sweep with other settings ({', '.join(differ)} differ); resuming needs "
                          f"the same settings (only {', '.join(RESUME_FREE_SETTINGS)} may change); {fresh}")
    return [job for job in old["jobs"] if job["job"] != "failed"]


def merged_jobs(parts: Sequence[Path], benchmark: str, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The finished job records of other result files of this sweep (``--merge``: seeds or cells run on
    another machine), checked like a resume: a missing file or other settings are refused, naming the file."""
    records = []
    for part in parts:
        if not part.is_file():
            raise ConfigError(f"--merge {part}: no such result file")
        records += earlier_jobs(part, benchmark, settings, fresh="merge only parts of the same sweep")
    return records


class JobLog:
    """A sweep's job records: this run's (``done``, what the summary covers) and the earlier run's
    not (yet) reused, kept in the JSON so that nothing finished is lost (e.g. other seeds' runs).

    ``files(record)``: the files a record's follow-ups read (a dataset, a guide); a record whose
    files are gone is run again.
    """

    def __init__(self, earlier: Iterable[dict[str, Any]], files: Callable[[Mapping[str, Any]], Iterable[str]]) -> None:
        self.done: list[dict[str, Any]] = []
        self.earlier = {record_key(r): r for r in earlier}
        self.files = files
        self.reused = 0

    def reuse(self, job: Job) -> dict[str, Any] | None:
        """The earlier record of ``job``, if there is one and its files are still on disk."""
        record = self.earlier.get(job_key(job.about["cell"], job.about.get("seed"), job.about["method"]))
        if record is None or not all(Path(path).exists() for path in self.files(record)):
            return None
        return record

    def add(self, record: dict[str, Any]) -> bool:
        """Log a finished job (it replaces the earlier record of that job); True if it was reused."""
        reused = self.earlier.pop(record_key(record), None) is record
        self.reused += reused
        if not reused:
            record.setdefault("finished_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.done.append(record)
        return reused

    @property
    def all(self) -> list[dict[str, Any]]:
        return self.done + list(self.earlier.values())


def run_sweep(benchmark: str, out: Path, settings: Mapping[str, Any], workers: int, first: Sequence[Job],
              follow_ups: Callable[[dict[str, Any]], list[Job]],
              summarize: Callable[[list[dict[str, Any]], float], dict[str, Any]],
              files: Callable[[Mapping[str, Any]], Iterable[str]],
              report: Callable[[dict[str, Any]], None], fresh: bool, merge: Sequence[Path] = ()) -> dict[str, Any]:
    """Run a sweep's jobs, resuming the one at ``out`` unless ``fresh``; rewrite ``out`` after every job.
    The finished jobs of the result files ``merge`` are kept too (``out``'s own record of a job wins).

    ``settings`` (``sweep_settings``) are what a resume compares; ``summarize(jobs, wall_s)`` builds
    the result from this run's records, and the JSON adds every record (``jobs``), how many were
    reused and the format. ``report`` hears of each job that ran (not of reused ones).
    """
    own = [] if fresh else earlier_jobs(out, benchmark, settings)
    log = JobLog([*merged_jobs(merge, benchmark, settings), *own], files)
    started = time.perf_counter()

    def result() -> dict[str, Any]:
        return {"benchmark": benchmark, **summarize(log.done, time.perf_counter() - started), "format": RESULT_FORMAT,
                "jobs_reused": log.reused, "jobs": log.all}

    def on_done(record: dict[str, Any]) -> list[Job]:
        if not log.add(record):
            report(record)
        write_json_atomic(out, result())
        return follow_ups(record)

    run_jobs(make_executor(workers), first, on_done, log.reuse, slots=workers)
    final = result()
    write_json_atomic(out, final)
    return final


# ----- the summary ----------------------------------------------------------------------------


def aligned_curves(runs: Sequence[Mapping[str, Any]], key: str, eval_every_steps: int
                   ) -> tuple[list[int], list[list[float]], list[list[int]]]:
    """The seeds' curve ``key`` at the evaluation steps every seed reached: those steps, the values
    per seed, and each seed's actual env step there.

    The trainer evaluates at the first episode end at or past each multiple of ``eval_every_steps``, so
    seeds evaluate a few steps apart; each evaluation is placed at its multiple (floor), and a
    multiple some seed skipped (an episode longer than ``eval_every_steps``) is left out, never shifted.
    """
    by_seed = [{int(s) // eval_every_steps * eval_every_steps: (v, int(s)) for s, v in zip(r["curve"]["steps"], r["curve"][key])}
               for r in runs]
    steps = sorted(set.intersection(*(set(c) for c in by_seed))) if by_seed else []
    return steps, [[c[s][0] for s in steps] for c in by_seed], [[c[s][1] for s in steps] for c in by_seed]


def first_step(steps: Sequence[int], values: Sequence[float], level: float) -> int | None:
    """The first step at which ``values`` reach ``level`` (None if never)."""
    return next((s for s, v in zip(steps, values) if v >= level - 1e-9), None)


def spread(name: str, values: Sequence[float]) -> dict[str, Any]:
    """``name``: mean over seeds, ``name_std``: their std, ``name_per_seed``: the values."""
    return {name: float(np.mean(values)), name + "_std": float(np.std(values)), name + "_per_seed": list(values)}


def online_entry(runs: Sequence[Mapping[str, Any]], metric: str, scale: float, eval_every_steps: int) -> dict[str, Any]:
    """An online method's summary over its seeds' runs (``online_run`` records), ``scale`` turning a
    success rate into ``metric``: at the budget, the explorer alone (``<metric>``) and the combined
    policy at each seed's final h (``combined_<metric>``), mean ± std and per seed; ``steps_to_<x>``:
    the first env step at which the seed-mean curve of the explorer alone reaches success ``x``
    (None if never; also per seed); the curves at the steps every seed evaluated (mean, std, per seed)."""
    steps, explorer, actual = aligned_curves(runs, "explorer_success", eval_every_steps)
    combined = aligned_curves(runs, "combined_success", eval_every_steps)[1]
    guide_steps = aligned_curves(runs, "guide_steps", eval_every_steps)[1]
    mean = np.mean(explorer, axis=0).tolist() if steps else []
    entry: dict[str, Any] = {
        **spread(metric, [scale * r["success"] for r in runs]),
        **spread("combined_" + metric, [scale * r["combined_success"] for r in runs]),
        "final_guide_step_per_seed": [r["final_guide_step"] for r in runs], "seeds": [r["seed"] for r in runs]}
    for level in THRESHOLDS:
        entry[f"steps_to_{level}"] = first_step(steps, mean, level)
        entry[f"steps_to_{level}_per_seed"] = [first_step(steps, curve, level) for curve in explorer]
    scaled = scale * np.asarray(explorer).reshape(len(runs), len(steps))
    entry["curve"] = {
        "steps": steps, metric: scaled.mean(axis=0).tolist() if steps else [],
        metric + "_std": scaled.std(axis=0).tolist() if steps else [], metric + "_per_seed": scaled.tolist(),
        "combined_" + metric: (scale * np.mean(combined, axis=0)).tolist() if steps else [],
        "combined_" + metric + "_per_seed": [[scale * v for v in c] for c in combined],
        "guide_steps_per_seed": [[int(h) for h in c] for c in guide_steps], "steps_per_seed": actual}
    entry["runs"] = [{k: r.get(k) for k in RUN_KEYS} for r in runs]
    return entry


def format_table(result: Mapping[str, Any], metric: str, cell_columns: Sequence[tuple[str, str, str]],
                 decimals: int) -> str:
    """One row per cell and method: the ``cell_columns`` (title, cell key, format spec), the policy alone
    at the budget and the combined policy at the final h (mean ± std over seeds), each seed's final h,
    the env steps to each ``THRESHOLDS`` success (seed-mean curve; "-": never) and the seeds' values."""
    width = 2 * (decimals + 4) + 3  # "mean ± std" of values up to 100

    def pm(entry: Mapping[str, Any], name: str) -> str:
        return f"{entry[name]:.{decimals}f} ± {entry[name + '_std']:.{decimals}f}" if name in entry else "-"

    head = "".join(f"{title:{spec}}" for title, _, spec in cell_columns)
    lines = [f"{head}  {'method':<13}{metric:>{width}}  {'combined':>{width}}  {'final h':<10}"
             + "".join(f"{'to ' + str(x):>8}" for x in THRESHOLDS) + "  per seed"]
    for cell in result["results"]:
        for method, entry in cell["methods"].items():
            final_h = ",".join(str(h) for h in entry.get("final_guide_step_per_seed", [])) or "-"
            to = "".join(f"{'-' if entry.get(f'steps_to_{x}') is None else entry[f'steps_to_{x}']:>8}"
                         for x in THRESHOLDS)
            lines.append("".join(f"{cell[key]:{spec}}" for _, key, spec in cell_columns)
                         + f"  {method:<13}{pm(entry, metric):>{width}}  {pm(entry, 'combined_' + metric):>{width}}"
                         f"  {final_h:<10}{to}  " + " ".join(f"{v:.{decimals}f}" for v in entry[metric + "_per_seed"]))
    return "\n".join(lines)
