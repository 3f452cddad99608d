"""One config vocabulary: keys say their unit, and an old name is an error that names the new one."""
import json

import pytest

from jsrl_bench.grasp.config import GraspBenchConfig
from jsrl_bench.lock.bench import LockBenchConfig
from jsrl_bench.sweep.common import RESULT_FORMAT, earlier_jobs
from jsrl_learning.config import ConfigError, from_mapping, in_current_names
from jsrl_learning.learners.qtopt import QTOptConfig
from jsrl_learning.trainer import TrainConfig

GRASP = {"tasks": ["indiscriminate"], "obs": ["state"], "demos": [20], "seeds": [0], "online_steps": 100}


@pytest.mark.parametrize("cls, data, message", [
    (TrainConfig, {"env_id": "x", "eval_every": 5}, "'eval_every' is now 'eval_every_steps'"),
    (TrainConfig, {"env_id": "x", "checkpoint_every": 5}, "'checkpoint_every' is now 'checkpoint_every_steps'"),
    (GraspBenchConfig, {**GRASP, "stages": 4}, "'stages' is now 'n_stages'"),
    (GraspBenchConfig, {**GRASP, "eval_every": 400}, "'eval_every' is now 'eval_every_steps'"),
    (LockBenchConfig, {"horizons": [3], "budget_episodes": 5, "seeds": [0], "eval_every": 5},
     "'eval_every' is now 'eval_every_episodes'"),
    (QTOptConfig, {"batch_size": 64}, "'batch_size' was removed: the batch size is the trainer's"),
])
def test_an_old_key_names_its_replacement(cls, data, message):
    with pytest.raises(ConfigError, match=f"where.yaml: {message}"):
        from_mapping(cls, data, "where.yaml")


def test_a_checkpoints_config_from_before_the_renames_loads_in_todays_names():
    old = {"env_id": "x", "eval_every": 7, "checkpoint_every": 3}
    config = from_mapping(TrainConfig, in_current_names(TrainConfig, old), "checkpoint")
    assert (config.eval_every_steps, config.checkpoint_every_steps) == (7, 3)
    assert in_current_names(QTOptConfig, {"batch_size": 256, "lr": 0.1}) == {"lr": 0.1}


def test_a_sweep_written_with_the_old_names_resumes(tmp_path):
    settings = {"eval_every_steps": 400, "n_stages": 4, "seeds": [0]}
    out = tmp_path / "sweep.json"
    job = {"job": "run", "cell": "c", "seed": 0}
    out.write_text(json.dumps({"benchmark": "grasp", "format": RESULT_FORMAT, "jobs": [job],
                               "settings": {"eval_every": 400, "stages": 4, "seeds": [0]}}))
    assert earlier_jobs(out, "grasp", settings) == [job]
    with pytest.raises(ConfigError, match="n_stages differ"):
        earlier_jobs(out, "grasp", {**settings, "n_stages": 5})
