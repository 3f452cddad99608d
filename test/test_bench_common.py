"""Benchmark plumbing: the job queue runs follow-ups, stops at a failing job; curves average per point."""
import pytest

from jsrl_learning.bench.common import InlineExecutor, derive_seed, mean_curves, run_jobs


def square(x):
    return {"x": x, "y": x * x}


def fail(x):
    raise RuntimeError(f"job {x} failed")


def test_follow_ups_run_until_none_is_left():
    seen = []

    def on_done(result):
        seen.append(result["y"])
        return [(square, (result["x"] + 1,))] if result["x"] < 3 else []

    run_jobs(InlineExecutor(), [(square, (1,))], on_done)
    assert seen == [1, 4, 9]


def test_a_failing_job_stops_the_run_with_its_error():
    seen = []
    with pytest.raises(RuntimeError, match="job 2 failed"):
        run_jobs(InlineExecutor(), [(square, (1,))], lambda r: seen.append(r["x"]) or [(fail, (2,))])
    assert seen == [1]


def test_mean_curves_cut_to_the_shortest_seed():
    assert mean_curves([[0.0, 1.0, 1.0], [1.0, 0.0]]) == ([0.5, 0.5], 2)
    assert mean_curves([]) == ([], 0)


def test_seed_streams_are_distinct_and_stable():
    assert derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2) != derive_seed(1, 1)
