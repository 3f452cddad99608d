"""The AntMaze benchmark: a tiny sweep writes the documented JSON and plot; methods differ only where they should."""
import pytest
import yaml
from bench_helpers import by_job, read_back, rerun_without, run_cli, run_tiny

from jsrl_bench.antmaze import bench as antmaze
from jsrl_bench.antmaze.bench import (AntMazeBenchConfig, Cell, format_table, load_bench_config, run_antmaze_bench,
                                      train_config)
from jsrl_bench.antmaze.plot import plot_antmaze_bench
from jsrl_bench.cli.main import main
from jsrl_bench.sweep.common import default_config_path
from jsrl_learning.config import ConfigError, from_mapping

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TINY = {  # every cost cut to the bone (40-step episodes): this checks the plumbing, not the result
    "mazes": ["umaze"], "dataset_sizes": [60], "seeds": [3], "offline_updates": 5, "online_steps": 80,
    "eval_every_steps": 40, "eval_episodes": 1, "final_eval_episodes": 2, "batch_size": 8, "n_stages": 2, "window": 1,
    "iql": {"hidden": [8], "reward_shift": -1.0}, "env_kwargs": {"max_steps": 40}, "workers": 1,
}
METHODS = ["iql_offline", "iql", "jsrl", "jsrl_random"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return run_tiny(run_antmaze_bench, from_mapping(AntMazeBenchConfig, TINY, "tiny"), tmp_path_factory, "antmaze")


def test_tiny_bench_writes_json_with_the_required_fields(tiny):
    written = read_back(*tiny)
    assert written["complete"] and written["jobs_done"] == 5  # dataset, pre-training, 3 online runs
    (cell,) = written["results"]
    assert (cell["maze"], cell["dataset_size"]) == ("umaze", 60)
    assert cell["dataset"]["transitions"] == 60 and cell["dataset"]["noise"] == 0.2
    assert list(cell["methods"]) == METHODS
    for method, entry in cell["methods"].items():
        assert 0.0 <= entry["score"] <= 100.0 and entry["score_std"] == 0.0  # one seed
        assert entry["score_per_seed"] == [entry["score"]] and entry["seeds"] == [3]
        settings = entry["settings"]
        assert settings["maze"] == "umaze" and settings["dataset_size"] == 60 and settings["seeds"] == [3]
        assert settings["iql"]["reward_shift"] == -1.0 and settings["batch_size"] == 8
        curve = entry["curve"]
        assert len(curve["steps"]) == len(curve["score"]) == len(curve["score_per_seed"][0])
    assert cell["methods"]["iql_offline"]["settings"]["online_steps"] == 0
    for method in ("iql", "jsrl", "jsrl_random"):
        entry = cell["methods"][method]
        assert entry["settings"]["online_steps"] == 80 and entry["curve"]["steps"] == [40, 80]
        assert entry["runs"][0]["env_steps"] >= 80 and entry["runs"][0]["updates"] > 0
        (job,) = [j for j in written["jobs"] if j.get("method") == method]
        assert entry["combined_score_per_seed"] == [100 * job["combined_success"]]
        assert entry["final_guide_step_per_seed"] == [job["final_guide_step"]]
        assert "steps_to_0.5" in entry and len(entry["steps_to_0.8_per_seed"]) == 1
    assert cell["methods"]["iql"]["combined_score"] == cell["methods"]["iql"]["score"]  # h = 0 throughout
    assert cell["methods"]["iql"]["runs"][0]["stages"] == [0]  # the guide never acts
    assert cell["methods"]["iql"]["settings"]["normalize_obs"] == "the dataset's mean and std"
    h1 = cell["methods"]["iql_offline"]["runs"][0]["h1"]
    assert cell["methods"]["jsrl"]["runs"][0]["h1"] == h1 and cell["methods"]["jsrl"]["runs"][0]["stages"][0] == round(h1)


def test_table_and_plot(tiny, tmp_path):
    _, result = tiny
    table = format_table(result)
    assert all(m in table for m in METHODS)
    path = plot_antmaze_bench(result, tmp_path / "antmaze.png")
    assert path.stat().st_size > 1000


def test_methods_differ_only_in_guide_init_and_curriculum(tmp_path):
    cfg = from_mapping(AntMazeBenchConfig, TINY, "tiny")
    stats = {"obs_mean": [0.0] * 31, "obs_std": [2.0] * 31}
    configs = {m: train_config(cfg, Cell("medium", 100), 0, m, "data", "guide.pt", 123.0, stats, tmp_path, 0.4)
               for m in ("iql", "jsrl", "jsrl_random")}
    iql, jsrl, jsrl_random = configs["iql"], configs["jsrl"], configs["jsrl_random"]
    assert iql.warm_start and iql.curriculum.h1 == 0  # fine-tunes the pre-trained policy, no guide steps
    for run in (jsrl, jsrl_random):  # JSRL: the pre-trained policy guides a fresh explorer, pre-trained alike
        assert not run.warm_start and run.curriculum.h1 == 123.0 and run.curriculum.window == 1
        assert run.offline_updates == cfg.offline_updates and run.curriculum.reference == 0.4
    assert iql.offline_updates == 0  # its pre-training is the guide's (the same offline_updates)
    assert (jsrl.curriculum.mode, jsrl_random.curriculum.mode) == ("curriculum", "random")
    for run in configs.values():  # same data, replay mix, learner settings, env episodes
        assert run.offline_dataset == "data" and run.online_fraction == 0.75
        assert run.guide.kind == "policy_checkpoint" and run.guide.path == "guide.pt"
        assert run.env_kwargs == {"max_steps": 40, "maze": "medium"}
        assert run.learner_config == iql.learner_config and run.seed == iql.seed
        assert run.learner_config["obs_std"] == [2.0] * 31 and run.learner_config["reward_shift"] == -1.0


@pytest.mark.parametrize("change, key", [
    ({"mazes": ["huge"]}, "mazes"), ({"online_stepz": 5}, "online_stepz"), ({"iql": {"expectyle": 0.9}}, "expectyle"),
    ({"iql": {"seed": 1}}, "iql.seed"), ({"iql": {"obs_std": [1.0]}}, "iql.obs_std"), ({"window": 0}, "window"), ({"env_kwargs": {"maze": "large"}}, "env_kwargs.maze"),
])
def test_bad_config_is_named(change, key, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, **change}))
    with pytest.raises(ConfigError, match=key):
        load_bench_config(path)
    assert main(["bench", "antmaze", "--config", str(path), "--out", str(tmp_path / "r.json")]) == 2


def test_shipped_configs_load():
    quick, full = load_bench_config(default_config_path("antmaze_quick.yaml")), \
        load_bench_config(default_config_path("antmaze_full.yaml"))
    assert quick.mazes == ["umaze"] and quick.dataset_sizes == [10000] and len(quick.seeds) >= 3
    assert set(full.mazes) >= {"umaze", "medium"} and set(full.dataset_sizes) >= {10000, 100000}
    for cfg in (quick, full):
        assert cfg.iql["reward_shift"] == -1.0 and cfg.online_fraction == 0.75 and len(cfg.seeds) >= 3


@pytest.mark.parametrize("maze", ["umaze", "medium"])
def test_a_100k_cell_config_is_the_full_config_cut_to_one_cell(maze):
    full, cell = (load_bench_config(default_config_path(f"antmaze_{name}.yaml")) for name in ("full", f"{maze}100k"))
    assert cell.mazes == [maze] and cell.dataset_sizes == [100000] and "jsrl_random" not in cell.methods
    cut = {"mazes", "dataset_sizes", "methods", "workers"}
    assert {k: v for k, v in vars(cell).items() if k not in cut} == {k: v for k, v in vars(full).items() if k not in cut}


def test_a_failed_job_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    def broken(cfg, cell, work_dir):
        raise ValueError(f"no data for {cell.name}")

    monkeypatch.setattr(antmaze, "make_dataset", broken)
    result = run_cli("antmaze", {**TINY, "dataset_sizes": [60, 80]}, tmp_path)
    assert not result["complete"] and result["jobs_done"] == 2 and result["results"] == []
    assert [(f["cell"]["dataset_size"], f["method"], f["error"]) for f in result["failed"]] == [
        (60, "dataset", "ValueError: no data for umaze-60"), (80, "dataset", "ValueError: no data for umaze-80")]
    assert "umaze/80 dataset FAILED: ValueError: no data for umaze-80" in capsys.readouterr().out


def test_a_rerun_keeps_the_finished_jobs_and_runs_only_the_missing_one(tiny, tmp_path, monkeypatch):
    out, _ = tiny
    cfg = from_mapping(AntMazeBenchConfig, TINY, "tiny")
    before, after, ran = rerun_without(antmaze, run_antmaze_bench, cfg, out, tmp_path, "jsrl_random", monkeypatch,
                                       ("make_dataset", "pretrain", "run_online"))
    assert ran == ["jsrl_random"] and after["complete"] and after["jobs_reused"] == 4
    old, new = by_job(before["jobs"]), by_job(after["jobs"])
    assert [key[2] for key in old if old[key] != new[key]] == ["jsrl_random"]


def test_cli_seeds_override_the_config(tmp_path):
    result = run_cli("antmaze", {**TINY, "methods": ["iql_offline"]}, tmp_path, "--seeds", "5", "6")
    assert result["complete"] and result["settings"]["seeds"] == [5, 6]
    assert result["results"][0]["methods"]["iql_offline"]["seeds"] == [5, 6]
