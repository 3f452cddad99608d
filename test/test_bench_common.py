"""Benchmark plumbing: the job queue runs follow-ups and records a failing job; curves average per point."""
import pytest

from jsrl_learning.bench.common import InlineExecutor, Job, derive_seed, failures, job_name, mean_curves, run_jobs


def square(x):
    return {"job": "square", "x": x, "y": x * x}


def fail(x):
    raise RuntimeError(f"job {x} failed")


def test_follow_ups_run_until_none_is_left():
    seen = []

    def on_done(result):
        seen.append(result["y"])
        return [Job(square, (result["x"] + 1,), {})] if result["x"] < 3 else []

    run_jobs(InlineExecutor(), [Job(square, (1,), {})], on_done)
    assert seen == [1, 4, 9]


def test_a_failing_job_is_recorded_with_what_it_was_and_the_run_goes_on():
    seen = []

    def on_done(result):
        seen.append(result)
        return [Job(fail, (2,), {"seed": 2, "method": "jsrl"}), Job(square, (3,), {})] if len(seen) == 1 else []

    run_jobs(InlineExecutor(), [Job(square, (1,), {})], on_done)
    assert sorted(job_name(r) for r in seen) == ["jsrl", "square", "square"]  # finished jobs come in any order
    assert {"job": "failed", "seed": 2, "method": "jsrl", "error": "RuntimeError: job 2 failed",
            "wall_s": 0.0, "cpu_s": 0.0} in seen
    assert failures(seen) == [{"seed": 2, "method": "jsrl", "error": "RuntimeError: job 2 failed"}]


def test_an_error_of_the_bench_itself_stops_the_run():
    with pytest.raises(KeyError):
        run_jobs(InlineExecutor(), [Job(square, (1,), {})], lambda result: [] if result["nope"] else [])


def test_mean_curves_cut_to_the_shortest_seed():
    assert mean_curves([[0.0, 1.0, 1.0], [1.0, 0.0]]) == ([0.5, 0.5], 2)
    assert mean_curves([]) == ([], 0)


def test_seed_streams_are_distinct_and_stable():
    assert derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2) != derive_seed(1, 1)
