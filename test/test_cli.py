"""The ``jsrl`` command line: a tiny training run end to end, evaluation, bench, and user errors."""
import json
from pathlib import Path

import pytest
import yaml

import jsrl_bench.lock.bench as lock_bench
from jsrl_bench.cli.main import main

TINY = {
    "env_id": "jsrl/CombinationLock-v0",
    "env_kwargs": {"horizon": 5, "n_actions": 3, "seed": 0},
    "seed": 0,
    "total_env_steps": 600,
    "learner": "tabular_q",
    "learner_config": {"epsilon": 0.1},
    "guide": {"kind": "scripted", "target": "jsrl_learning.envs.combination_lock:make_lock_guide",
              "kwargs": {"p": 0.95, "seed": 0}},
    "curriculum": {"n_stages": 5, "window": 2, "metric": "success_rate"},
    "batch_size": 16,
    "eval_every_steps": 100,
    "eval_episodes": 5,
}


def write_config(path: Path, **changes) -> Path:
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("train")
    out = tmp / "run"
    assert main(["train", "--config", str(write_config(tmp / "c.yaml")), "--out", str(out), "--no-progress"]) == 0
    return out


def history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def test_train_writes_checkpoint_history_tensorboard_and_plot(trained: Path) -> None:
    for name in ("checkpoint.pt", "config.yaml", "history.jsonl", "history.csv", "learning_curve.png"):
        assert (trained / name).is_file(), name
    assert list(trained.glob("events.out.tfevents.*"))
    rows = history(trained)
    assert rows[-1]["step"] >= 600
    assert any("eval/explorer_success_rate" in r for r in rows)
    assert "curriculum/guide_step" in (trained / "history.csv").read_text().splitlines()[0]


def test_resume_continues_the_run_and_its_history(trained: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.pt", "history.jsonl"):
        (out / name).write_bytes((trained / name).read_bytes())
    config = write_config(tmp_path / "c.yaml", total_env_steps=1000)
    assert main(["train", "--config", str(config), "--out", str(out), "--resume", str(out / "checkpoint.pt"),
                 "--no-progress"]) == 0
    steps = [r["step"] for r in history(out)]
    assert steps == sorted(steps) and steps[-1] >= 1000
    assert len(steps) > len(history(trained))  # the earlier history was kept, not restarted
    cpu_line = capsys.readouterr().out.splitlines()[-1]  # this process's share: a resumed run has no prepare part
    assert cpu_line.startswith("CPU of this process: collect_and_learn ") and "prepare" not in cpu_line


def test_evaluate_scores_the_checkpoint(trained: Path, capsys) -> None:
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--episodes", "3"]) == 0
    assert "explorer alone, 3 episodes: success rate" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--episodes", "3",
                 "--guide-steps", "2"]) == 0
    assert "guide for 2 steps" in capsys.readouterr().out


@pytest.mark.parametrize("changes, named", [
    ({"toleranse": 0.1}, "'toleranse'"),
    ({"curriculum": {"n_stages": 5, "windw": 2}}, "'windw'"),
    ({"learner": "sarsa"}, "'sarsa'"),
])
def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path, capsys, changes, named) -> None:
    code = main(["train", "--config", str(write_config(tmp_path / "bad.yaml", **changes)), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert named in err and "bad.yaml" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_files_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "nope.pt" in err


def test_usage_errors_exit_2(trained: Path) -> None:
    assert main([]) == 2
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--episodes", "0"]) == 2
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--guide-steps", "-1"]) == 2
    assert main(["bench", "unknown-bench", "--out", "x.json"]) == 2


def test_bench_lock_writes_json_and_plot(tmp_path: Path, monkeypatch, capsys) -> None:
    # The real bench code with a smaller sweep than --quick's, to keep the test short.
    monkeypatch.setattr(lock_bench, "QUICK", lock_bench.LockBenchConfig(
        horizons=[2, 4, 6], budget_episodes=300, seeds=[0], methods=["egreedy", "jsrl"]))
    out = tmp_path / "lock.json"
    assert main(["bench", "lock", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["H"] == [2, 4, 6] and len(result["jsrl_episodes"]) == 3
    assert out.with_suffix(".png").is_file()
    assert "log-log slope" in capsys.readouterr().out
    assert main(["bench", "lock", "--quick", "--out", str(tmp_path / "lock.txt")]) == 2
