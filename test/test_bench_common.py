"""Benchmark plumbing: the job queue runs follow-ups, records a failing job and resumes a sweep;
worker processes keep stdout quiet; curves align over seeds; the summary's online entries."""
import json

import pytest

from jsrl_bench.sweep.common import (InlineExecutor, Job, aligned_curves, derive_seed, failures, job_name,
                                     make_executor, online_entry, run_jobs, run_sweep)
from jsrl_learning.config import ConfigError


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


def test_inline_jobs_are_recorded_one_by_one_so_a_killed_sweep_keeps_them():
    events = []

    def job(x):
        events.append(f"run {x}")
        return {"x": x}

    def on_done(result):
        events.append(f"done {result['x']}")
        return [Job(job, (result["x"] + 10,), {})] if result["x"] < 10 else []

    run_jobs(InlineExecutor(), [Job(job, (1,), {}), Job(job, (2,), {})], on_done)
    assert events == ["run 1", "done 1", "run 2", "done 2", "run 11", "done 11", "run 12", "done 12"]


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


def run(steps, explorer, combined=None, seed=0, success=0.5, combined_success=0.5, final_h=0):
    """A fake ``online_run`` record with the summary's inputs."""
    return {"seed": seed, "success": success, "combined_success": combined_success, "final_guide_step": final_h,
            "curve": {"steps": steps, "explorer_success": explorer, "combined_success": combined or explorer,
                      "guide_steps": [final_h] * len(steps)}}


def test_curves_align_at_the_evaluation_steps_every_seed_reached():
    runs = [run([103, 201, 312], [0.0, 1.0, 1.0]), run([100, 305], [1.0, 0.0])]  # the second skipped 200
    steps, values, actual = aligned_curves(runs, "explorer_success", 100)
    assert steps == [100, 300] and values == [[0.0, 1.0], [1.0, 0.0]] and actual == [[103, 312], [100, 305]]
    assert aligned_curves([], "explorer_success", 100) == ([], [], [])


def test_online_entry_scores_both_policies_and_steps_to_success():
    runs = [run([10, 20, 30], [0.2, 0.6, 0.9], seed=0, success=0.9, combined_success=1.0, final_h=4),
            run([10, 20, 30], [0.4, 0.4, 0.7], seed=1, success=0.7, combined_success=0.8, final_h=0)]
    entry = online_entry(runs, "score", 100.0, 10)
    assert entry["score"] == pytest.approx(80.0) and entry["score_std"] == pytest.approx(10.0)
    assert entry["combined_score_per_seed"] == [100.0, 80.0] and entry["final_guide_step_per_seed"] == [4, 0]
    assert entry["steps_to_0.5"] == 20 and entry["steps_to_0.8"] == 30  # the mean curve: 0.3, 0.5, 0.8
    assert entry["steps_to_0.5_per_seed"] == [20, 30] and entry["steps_to_0.8_per_seed"] == [30, None]
    curve = entry["curve"]
    assert curve["steps"] == [10, 20, 30] and curve["score"] == pytest.approx([30.0, 50.0, 80.0])
    assert curve["score_std"] == pytest.approx([10.0, 10.0, 10.0]) and curve["guide_steps_per_seed"] == [[4] * 3, [0] * 3]
    assert [r["seed"] for r in entry["runs"]] == [0, 1]


# ----- a toy sweep: one "prepare" job per seed whose file its two "online" jobs need ----------


def prepare(seed, work):
    path = work / f"prep{seed}"
    path.write_text("data")
    return {"job": "prepare", "cell": {"c": 1}, "seed": seed, "path": str(path), "wall_s": 0.0, "cpu_s": 0.0}


def online(seed, method):
    return {"job": "online", "cell": {"c": 1}, "seed": seed, "method": method, "wall_s": 0.0, "cpu_s": 1.0}


def toy_sweep(out, work, seeds, settings=None, fresh=False, ran=None, merge=()):
    ran = [] if ran is None else ran

    def logged(fn):
        return lambda *args: ran.append((fn.__name__, *args[:2])) or fn(*args)

    def follow_ups(record):
        return [Job(logged(online), (record["seed"], m), {"cell": {"c": 1}, "seed": record["seed"], "method": m})
                for m in ("a", "b")] if record["job"] == "prepare" else []

    first = [Job(logged(prepare), (s, work), {"cell": {"c": 1}, "seed": s, "method": "prepare"}) for s in seeds]
    summarize = lambda jobs, wall_s: {"settings": {"x": 1, "seeds": seeds, **(settings or {})},  # noqa: E731
                                      "seeds_done": sorted({j["seed"] for j in jobs})}
    return run_sweep("toy", out, {"x": 1, "seeds": seeds, **(settings or {})}, 1, first, follow_ups, summarize,
                     lambda r: [r["path"]] if r["job"] == "prepare" else [], lambda r: None, fresh, merge)


def test_a_sweep_resumes_keeping_finished_jobs_and_other_seeds(tmp_path):
    out = tmp_path / "r.json"
    first = toy_sweep(out, tmp_path, [0, 1])
    assert len(first["jobs"]) == 6 and first["jobs_reused"] == 0 and json.loads(out.read_text()) == first
    ran = []
    again = toy_sweep(out, tmp_path, [1, 2], ran=ran)  # other seeds: seed 1 kept, 2 runs, 0 stays in the JSON
    assert sorted(ran) == [("online", 2, "a"), ("online", 2, "b"), ("prepare", 2, tmp_path)]
    assert again["seeds_done"] == [1, 2] and again["jobs_reused"] == 3 and len(again["jobs"]) == 9
    (tmp_path / "prep1").unlink()  # a preparation whose file is gone runs again; its finished follow-ups do not
    ran.clear()
    third = toy_sweep(out, tmp_path, [0, 1, 2], ran=ran)
    assert ran == [("prepare", 1, tmp_path)] and third["jobs_reused"] == 8 and len(third["jobs"]) == 9


def test_parts_run_elsewhere_merge_into_one_summary_without_running_again(tmp_path):
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    toy_sweep(here, tmp_path, [0, 1])
    other_machine = toy_sweep(there, tmp_path, [2])
    ran = []
    merged = toy_sweep(here, tmp_path, [0, 1, 2], ran=ran, merge=[there])
    assert ran == [] and merged["seeds_done"] == [0, 1, 2] and merged["jobs_reused"] == 9
    assert [j for j in merged["jobs"] if j["seed"] == 2] == other_machine["jobs"]
    with pytest.raises(ConfigError, match=r"there.json: holds a sweep with other settings \(x differ\).*same sweep"):
        toy_sweep(tmp_path / "new.json", tmp_path, [2], settings={"x": 2}, merge=[there])
    with pytest.raises(ConfigError, match="--merge .*missing.json: no such result file"):
        toy_sweep(here, tmp_path, [0], merge=[tmp_path / "missing.json"])


def test_a_rerun_drops_failed_records_and_runs_those_jobs_again(tmp_path):
    out = tmp_path / "r.json"
    first = toy_sweep(out, tmp_path, [0])
    written = json.loads(out.read_text())
    written["jobs"][-1] = {"job": "failed", **{k: written["jobs"][-1][k] for k in ("cell", "seed", "method")},
                           "error": "RuntimeError: boom"}
    out.write_text(json.dumps(written))
    ran = []
    toy_sweep(out, tmp_path, [0], ran=ran)
    assert ran == [("online", 0, first["jobs"][-1]["method"])]


def test_a_rerun_with_other_settings_is_refused_naming_them_unless_fresh(tmp_path):
    out = tmp_path / "r.json"
    toy_sweep(out, tmp_path, [0])
    with pytest.raises(ConfigError, match=r"r.json: holds a sweep with other settings \(x, y differ\).*--fresh"):
        toy_sweep(out, tmp_path, [0], settings={"x": 2, "y": 3})
    ran = []
    fresh = toy_sweep(out, tmp_path, [0], settings={"x": 2}, fresh=True, ran=ran)
    assert len(ran) == 3 and fresh["jobs_reused"] == 0 and len(fresh["jobs"]) == 3
    out.write_text("{}")
    with pytest.raises(ConfigError, match="no job records"):
        toy_sweep(out, tmp_path, [0], settings={"x": 2})


def connect_pybullet(index):
    """What the grasping env does on creation: a pybullet client (whose C code prints argv[0]=)."""
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    BulletClient(connection_mode=pybullet.DIRECT).disconnect()
    print("a worker's print")
    return {"job": "connect", "index": index}


def test_worker_processes_keep_stdout_quiet(capfd):
    seen = []
    run_jobs(make_executor(2), [Job(connect_pybullet, (i,), {}) for i in range(2)], lambda r: seen.append(r) or [],
             slots=2)
    out = capfd.readouterr().out
    assert sorted(r["index"] for r in seen) == [0, 1]
    assert "argv[0]" not in out and "a worker's print" not in out


def test_seed_streams_are_distinct_and_stable():
    assert derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2) != derive_seed(1, 1)


def test_a_jobs_log_line_gives_collecting_and_learning_per_env_step_apart_from_evaluations():
    from jsrl_bench.cli.bench_common import job_cost

    online = {"wall_s": 900.4, "cpu_s": 880.0, "env_steps": 50_000,
              "cpu_s_parts": {"prepare": 30.0, "collect_and_learn": 650.0, "evaluate": 190.0}}
    assert job_cost(online) == "900 s, 880 CPU s; collecting and learning 650 CPU s = 13.0 ms per env step"
    assert job_cost({"wall_s": 12.0, "cpu_s": 11.0}) == "12 s, 11 CPU s"  # a job that is not an online run
    assert job_cost({"wall_s": 101.0}) == "101 s"  # a dataset job keeps no CPU clock
