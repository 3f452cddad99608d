"""The grasping benchmark: a tiny sweep writes the documented JSON and plot; bad settings are named."""
import pytest
import yaml
from bench_helpers import by_job, read_back, rerun_without, run_cli, run_tiny

from jsrl_bench.cli.main import main
from jsrl_bench.grasp import bench as grasp
from jsrl_bench.grasp.bench import run_grasp_bench, train_config
from jsrl_bench.grasp.config import Cell, GraspBenchConfig, load_bench_config
from jsrl_bench.grasp.plot import plot_grasp_bench
from jsrl_bench.grasp.report import format_table
from jsrl_bench.sweep.common import default_config_path
from jsrl_learning.config import ConfigError, from_mapping

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TINY = {  # every cost cut to the bone: this checks the plumbing, not the result
    "tasks": ["indiscriminate"], "obs": ["state"], "demos": [2], "seeds": [3], "online_steps": 40,
    "eval_every_steps": 20, "eval_episodes": 2, "final_eval_episodes": 2, "batch_size": 8,
    "qtopt": {"hidden": [8], "cem": {"n_samples": 8, "n_iters": 1, "n_elites": 2},
              "target_cem": {"n_samples": 2, "n_iters": 1, "n_elites": 1}},
    "qtopt_offline_updates": 5, "bc": {"hidden": [8], "n_updates": 10, "batch_size": 8},
    "n_stages": 2, "window": 1, "h1": 4, "workers": 1,
}
SETTINGS = ("task", "obs", "demos", "online_steps", "seeds")
ONLINE = ("qtopt", "jsrl", "jsrl_random", "jsrl_demos")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return run_tiny(run_grasp_bench, from_mapping(GraspBenchConfig, TINY, "tiny"), tmp_path_factory, "grasp")


def test_tiny_bench_writes_json_with_the_required_fields(tiny):
    written = read_back(*tiny)
    assert written["complete"] and written["jobs_done"] == 5 and written["format"] == 2
    assert len(written["jobs"]) == 5 and written["jobs_reused"] == 0
    (cell,) = written["results"]
    assert (cell["task"], cell["obs"], cell["demos"]) == ("indiscriminate", "state", 2)
    assert list(cell["methods"]) == ["bc", "qtopt", "jsrl", "jsrl_random", "jsrl_demos"]
    for method, entry in cell["methods"].items():
        assert 0.0 <= entry["success"] <= 1.0 and entry["success_std"] == 0.0  # one seed
        assert entry["success_per_seed"] == [entry["success"]] and entry["seeds"] == [3]
        for key in SETTINGS:
            assert key in entry["settings"], (method, key)
        assert entry["settings"]["seeds"] == [3] and entry["settings"]["eval_objects"] == "test"
        curve = entry["curve"]
        assert len(curve["steps"]) == len(curve["success"]) == len(curve["success_per_seed"][0])
    assert cell["methods"]["bc"]["settings"]["online_steps"] == 0
    for method in ONLINE:
        entry = cell["methods"][method]
        assert entry["settings"]["online_steps"] == 40 and entry["curve"]["steps"] == [20, 40]
        assert entry["settings"]["qtopt"]["gamma"] == 0.9 and entry["settings"]["qtopt"]["hidden"] == [8]
        assert entry["settings"]["updates_per_step"] == 1.0
        assert entry["runs"][0]["env_steps"] >= 40
        (job,) = [j for j in written["jobs"] if j.get("method") == method]
        assert 0.0 <= job["combined_success"] <= 1.0 and job["final_guide_step"] in (4, 2, 0)
        assert entry["combined_success_per_seed"] == [job["combined_success"]] and entry["combined_success_std"] == 0
        assert entry["final_guide_step_per_seed"] == [job["final_guide_step"]]
        for level in ("0.5", "0.8"):  # one seed: the mean curve is the seed's
            assert entry[f"steps_to_{level}_per_seed"] == [entry[f"steps_to_{level}"]]
            assert entry[f"steps_to_{level}"] in (None, 20, 40)
        assert len(entry["curve"]["success_std"]) == 2 and len(entry["curve"]["combined_success_per_seed"][0]) == 2
    qtopt = cell["methods"]["qtopt"]
    assert qtopt["runs"][0]["stages"] == [0]  # the guide never acts: both scores are the explorer's
    assert qtopt["final_guide_step_per_seed"] == [0] and qtopt["combined_success"] == qtopt["success"]
    assert cell["methods"]["jsrl"]["runs"][0]["stages"] == [4, 2, 0]
    assert cell["methods"]["jsrl_demos"]["settings"]["demos_in_replay"] is True
    assert cell["methods"]["jsrl"]["settings"]["demos_in_replay"] is False
    assert cell["demo_stats"]["3"]["demo_episodes"] == 2


def test_table_and_plot(tiny, tmp_path):
    _, result = tiny
    table = format_table(result)
    assert all(m in table for m in ("bc", "qtopt", "jsrl_random", "jsrl_demos", "combined", "to 0.8"))
    (path,) = plot_grasp_bench(result, tmp_path / "grasp")
    assert path.name == "grasp_indiscriminate_state.png" and path.stat().st_size > 1000


def test_methods_differ_only_in_guide_demos_and_curriculum(tmp_path):
    cfg = from_mapping(GraspBenchConfig, {**TINY, "h1": None, "qtopt_online_fraction": 0.6}, "tiny")
    cell = Cell("instance", "state", 20)
    configs = {m: train_config(cfg, cell, 0, m, "demos", "bc.pt", tmp_path) for m in ONLINE}
    qtopt, jsrl, jsrl_random, jsrl_demos = (configs[m] for m in ONLINE)
    assert qtopt.offline_dataset == "demos" and qtopt.offline_updates == 5 and qtopt.curriculum.h1 == 0
    for run in (jsrl, jsrl_random, jsrl_demos):  # JSRL for grasping: BC guide, cold start
        assert run.guide.kind == "bc" and run.curriculum.h1 is None and run.curriculum.window == 1
        assert not run.warm_start
    for run in (jsrl, jsrl_random):  # the paper's arms: demos not in the replay
        assert run.offline_dataset is None and run.offline_updates == 0
    # jsrl_demos: the demos exactly as the QT-Opt baseline has them, and jsrl's curriculum
    assert (jsrl_demos.offline_dataset, jsrl_demos.offline_updates) == (qtopt.offline_dataset, qtopt.offline_updates)
    assert jsrl_demos.curriculum == jsrl.curriculum
    assert (jsrl.curriculum.mode, jsrl_random.curriculum.mode) == ("curriculum", "random")
    for run in configs.values():
        assert run.online_fraction == 0.6 and run.updates_per_step == qtopt.updates_per_step
        assert (run.batch_size, run.total_env_steps, run.eval_every_steps) == (8, 40, 20)
        assert run.env_kwargs["object_set"] == "train" and run.eval_env_kwargs == {"object_set": "test"}
        assert run.env_kwargs["task"] == "instance" and run.learner_config == configs["qtopt"].learner_config
        assert run.seed == qtopt.seed  # same env episodes and learner init across methods


@pytest.mark.parametrize("change, named", [
    ({"stagez": 3}, "stagez"),
    ({"tasks": ["juggling"]}, "tasks"),
    ({"qtopt": {"gama": 0.9}}, "gama"),
    ({"qtopt": {"seed": 1}}, "qtopt.seed"),
    ({"bc": {"lr": -1.0}}, "lr"),
    ({"env_kwargs": {"object_set": "test"}}, "env_kwargs"),
    ({"seeds": [0, 0]}, "seeds"),
    ({"online_steps": 0}, "online_steps"),
])
def test_bad_configuration_is_an_error_naming_the_key(change, named):
    with pytest.raises(ConfigError, match=named):
        from_mapping(GraspBenchConfig, {**TINY, **change}, "bench")


def test_cli_names_a_bad_config_file_and_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, "windw": 3}))
    assert main(["bench", "grasp", "--config", str(path), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "windw" in err
    assert main(["bench", "grasp", "--config", str(path), "--out", str(tmp_path / "r.txt")]) == 2


def test_shipped_configs_are_valid_and_share_one_learner():
    quick, mid, full, bc = (load_bench_config(default_config_path(f"grasp_{name}.yaml"))
                            for name in ("quick", "50k", "full", "bc"))
    assert quick.obs == ["state"] and quick.demos == [20] and len(quick.seeds) >= 3 and quick.workers == 2
    assert quick.online_steps < mid.online_steps == 50_000 < full.online_steps == 100_000
    assert len(mid.seeds) >= 5 and {"qtopt", "jsrl", "jsrl_demos", "bc"} <= set(mid.methods)
    assert bc.methods == ["bc"] and bc.obs == ["state", "image"]
    assert quick.qtopt["gamma"] == 0.9 and quick.qtopt["cem"] == {"n_samples": 64, "n_iters": 2, "n_elites": 6}
    assert quick.qtopt["close_dim"] == 4 and quick.timeouts_terminal and quick.rule == "guide"
    for cfg in (mid, full):  # only the budget and the evaluations differ from the quick run
        for key in ("qtopt", "bc", "batch_size", "updates_per_step", "n_stages", "window", "tolerance", "rule",
                    "guide_tolerance", "timeouts_terminal", "qtopt_online_fraction", "env_kwargs", "demo_noise"):
            assert getattr(cfg, key) == getattr(quick, key), key
    assert bc.bc == quick.bc
    instance = load_bench_config(default_config_path("grasp_instance_quick.yaml"))
    assert instance.tasks == ["instance"] and quick.tasks == ["indiscriminate"]
    assert {k: v for k, v in vars(instance).items() if k != "tasks"} == {
        k: v for k, v in vars(quick).items() if k != "tasks"}  # only the task differs from --quick
    instance_50k = load_bench_config(default_config_path("grasp_50k_instance.yaml"))
    assert instance_50k.tasks == ["instance"] and {k: v for k, v in vars(instance_50k).items() if k not in (
        "tasks", "workers")} == {k: v for k, v in vars(mid).items() if k not in ("tasks", "workers")}
    cost = load_bench_config(default_config_path("grasp_50k_cost.yaml"))  # the run's cost, measured apart
    timing = ("seeds", "methods", "eval_every_steps", "eval_episodes", "final_eval_episodes", "workers")
    assert cost.methods == ["qtopt"] and {k: v for k, v in vars(cost).items() if k not in timing} == {
        k: v for k, v in vars(mid).items() if k not in timing}


def test_a_failed_preparation_is_recorded_and_the_sweep_goes_on(tiny, tmp_path, monkeypatch, capsys):
    def broken(cfg, cell, seed, work_dir):
        raise ValueError("GraspEnv: action must be 5 finite numbers")

    monkeypatch.setattr(grasp, "prepare_seed", broken)
    result = run_cli("grasp", {**TINY, "demos": [2, 3]}, tmp_path)
    assert not result["complete"] and result["jobs_done"] == 2 and result["results"] == []
    error = "ValueError: GraspEnv: action must be 5 finite numbers"
    assert result["failed"] == [{"cell": {"task": "indiscriminate", "obs": "state", "demos": n}, "seed": 3,
                                 "method": "prepare", "error": error} for n in (2, 3)]
    assert f"indiscriminate/state/3 seed 3 prepare      FAILED: {error}" in capsys.readouterr().out
    assert tiny[1]["failed"] == []


def test_failed_online_runs_are_recorded_beside_the_finished_jobs(tmp_path, monkeypatch):
    def broken(cfg, cell, seed, method, dataset, bc_path, work_dir):
        raise RuntimeError(f"{method} diverged")

    monkeypatch.setattr(grasp, "run_online", broken)
    result = run_grasp_bench(from_mapping(GraspBenchConfig, TINY, "tiny"), tmp_path / "r.json", tmp_path / "work")
    assert not result["complete"] and result["jobs_done"] == 5
    assert sorted((f["method"], f["error"]) for f in result["failed"]) == [
        (m, f"RuntimeError: {m} diverged") for m in sorted(ONLINE)]
    (cell,) = result["results"]
    assert list(cell["methods"]) == ["bc"]


def test_a_rerun_keeps_the_finished_jobs_and_runs_only_the_missing_one(tiny, tmp_path, monkeypatch):
    out, _ = tiny
    cfg = from_mapping(GraspBenchConfig, TINY, "tiny")
    before, after, ran = rerun_without(grasp, run_grasp_bench, cfg, out, tmp_path, "jsrl", monkeypatch,
                                       ("prepare_seed", "run_online"))
    assert ran == ["jsrl"]  # demos + BC still on disk: not prepared again
    assert after["complete"] and after["jobs_done"] == 5 and after["jobs_reused"] == 4
    old, new = by_job(before["jobs"]), by_job(after["jobs"])
    assert old.keys() == new.keys()
    changed = [key for key in old if old[key] != new[key]]
    assert [key[2] for key in changed] == ["jsrl"]  # the others kept as they were (same clocks, same time stamp)
    (cell_before,), (cell_after,) = before["results"], after["results"]
    for method in ("bc", "qtopt", "jsrl_random", "jsrl_demos"):
        assert cell_after["methods"][method] == cell_before["methods"][method]


def test_cli_resumes_refuses_other_settings_and_starts_over_with_fresh(tmp_path, capsys):
    settings = {**TINY, "methods": ["bc"]}
    first = run_cli("grasp", settings, tmp_path)
    assert first["complete"] and first["jobs_done"] == 1
    again = run_cli("grasp", {**settings, "workers": 2}, tmp_path)  # workers may differ
    assert again["jobs_reused"] == 1 and again["jobs"] == first["jobs"]
    assert "1 of the jobs kept from the earlier run" in capsys.readouterr().out
    run_cli("grasp", {**settings, "demo_noise": 0.1, "window": 2}, tmp_path, code=2)
    err = capsys.readouterr().err
    assert "r.json: holds a sweep with other settings (demo_noise, window differ)" in err and "--fresh" in err
    fresh = run_cli("grasp", {**settings, "demo_noise": 0.1}, tmp_path, "--fresh")
    assert fresh["jobs_reused"] == 0 and fresh["settings"]["demo_noise"] == 0.1
    more = run_cli("grasp", {**settings, "demo_noise": 0.1}, tmp_path, "--seeds", "4", "3")
    assert more["settings"]["seeds"] == [4, 3] and more["jobs_reused"] == 1 and len(more["jobs"]) == 2
    assert more["results"][0]["methods"]["bc"]["seeds"] == [4, 3]
    (tmp_path / "dup").mkdir()
    assert run_cli("grasp", settings, tmp_path / "dup", "--seeds", "1", "1", code=2) is None
    assert "seeds" in capsys.readouterr().err


def test_cli_merges_a_part_run_elsewhere(tmp_path):
    settings = {**TINY, "methods": ["bc"]}
    (tmp_path / "elsewhere").mkdir()
    part = run_cli("grasp", settings, tmp_path / "elsewhere", "--seeds", "1")
    run_cli("grasp", settings, tmp_path, "--seeds", "0")
    merged = run_cli("grasp", settings, tmp_path, "--seeds", "0", "1", "--merge", str(tmp_path / "elsewhere" / "r.json"))
    assert merged["jobs_reused"] == 2 and merged["results"][0]["methods"]["bc"]["seeds"] == [0, 1]
    assert part["jobs"][0] in merged["jobs"]
