"""jsrl bench argmax: the cheap target searches' shortfall against a strong CEM, on a trained run's replay."""
from __future__ import annotations

import json

import pytest

from jsrl_bench.cli.main import main
from jsrl_bench.learner.argmax_bias import SEARCHES, measure_argmax_bias
from jsrl_learning.config import from_mapping
from jsrl_learning.trainer import JSRLTrainer, TrainConfig


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = from_mapping(TrainConfig, {
        "env_id": "jsrl_sim:jsrl/Grasp-v0", "env_kwargs": {"object_set": "shapes", "max_steps": 5}, "seed": 0,
        "total_env_steps": 100, "learner": "qtopt",
        "learner_config": {"hidden": [16], "close_dim": 4, "cem": {"n_samples": 8, "n_iters": 1, "n_elites": 2}},
        "guide": {"kind": "scripted", "target": "jsrl_sim.grasping.scripted_guide:make_grasp_guide"},
        "curriculum": {"h1": 0}, "batch_size": 8, "eval_every_steps": 1000, "eval_episodes": 1, "out_dir": str(out)},
        "test")
    trainer = JSRLTrainer(config)
    trainer.train()
    return trainer.checkpoint_path


def test_every_search_is_measured_against_the_strong_one(checkpoint):
    result = measure_argmax_bias(str(checkpoint), n_states=64)
    assert result["n_states"] == 64 and set(result["searches"]) == set(SEARCHES)
    rows = result["searches"]
    for row in rows.values():  # the strong search samples far more: on average it finds at least as much
        assert row["mean_shortfall"] >= -1e-3
    assert rows["acting_64x2"]["mean_shortfall"] <= rows["target_16x1"]["mean_shortfall"]


def test_cli_writes_the_json(checkpoint, tmp_path, capsys):
    out = tmp_path / "argmax.json"
    assert main(["bench", "argmax", "--checkpoint", str(checkpoint), "--states", "8", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["n_states"] == 8
    assert "target_16x1" in capsys.readouterr().out
