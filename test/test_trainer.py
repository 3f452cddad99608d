"""Algorithm 1 end to end on the combination lock with a tabular explorer (fast, exact)."""
import time

import numpy as np
import pytest
import yaml

from jsrl_learning.buffers import MixedReplay
from jsrl_learning.checkpoint import load_checkpoint, save_checkpoint
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.datasets import from_arrays, save_npz
from jsrl_learning.envs import CombinationLockEnv
from jsrl_learning.guides import PolicyCheckpointGuide, ScriptedGuide
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.trainer import JSRLTrainer, TrainConfig, load_train_config

HORIZON = 4


class Recorder:
    """A TrainLogger that keeps everything."""

    def __init__(self):
        self.records = []

    def log(self, step, scalars):
        self.records.append((step, dict(scalars)))

    def values(self, key):
        return [s[key] for _, s in self.records if key in s]


def lock_config(tmp_path, **overrides):
    data = {
        "env_id": "jsrl/CombinationLock-v0", "env_kwargs": {"horizon": HORIZON, "n_actions": 2, "seed": 3},
        "seed": 0, "total_env_steps": 400, "learner": "tabular_q", "learner_config": {"epsilon": 0.3},
        "guide": {"kind": "scripted", "target": "jsrl_learning.envs:make_lock_guide", "kwargs": {"p": 1.0}},
        "curriculum": {"rule": "paper", "n_stages": HORIZON, "window": 1, "tolerance": 0.0, "h1_rollouts": 5},
        "batch_size": 8, "eval_every_steps": 20, "eval_episodes": 2, "out_dir": str(tmp_path / "run"),
    }
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and key != "env_kwargs" else value
    return from_mapping(TrainConfig, data, "test config")


def test_h1_is_estimated_from_the_guide_and_stages_step_down_to_zero(tmp_path):
    recorder = Recorder()
    trainer = JSRLTrainer(lock_config(tmp_path), callbacks=[recorder])
    trainer.prepare()
    assert trainer.h1 == HORIZON
    assert trainer.curriculum.stages == [4, 3, 2, 1, 0]
    assert recorder.values("curriculum/h1") == [4.0] and recorder.values("curriculum/guide_success_rate") == [1.0]


def test_a_given_h1_skips_the_estimate(tmp_path):
    trainer = JSRLTrainer(lock_config(tmp_path, curriculum={"h1": 10, "n_stages": 2}))
    trainer.prepare()
    assert trainer.curriculum.stages == [10, 5, 0]


def test_the_whole_trajectory_guide_part_too_goes_to_the_replay(tmp_path):
    trainer = JSRLTrainer(lock_config(tmp_path, total_env_steps=HORIZON))
    trainer.train()
    assert trainer.episodes == 1 and len(trainer.online) == HORIZON
    combination = trainer.env.unwrapped.combination
    assert trainer.online.obs[:HORIZON].tolist() == [0, 1, 2, 3]  # the guide opened the lock: h = H1 = 4
    assert trainer.online.actions[:HORIZON].tolist() == combination.tolist()
    assert trainer.online.terminals[:HORIZON].tolist() == [0, 0, 0, 1]


def test_curriculum_advances_to_the_explorer_alone_which_then_solves_the_lock(tmp_path):
    recorder = Recorder()
    trainer = JSRLTrainer(lock_config(tmp_path), callbacks=[recorder])
    trainer.train()
    assert trainer.curriculum.done
    stages = recorder.values("curriculum/guide_step")
    assert stages[0] == 4 and stages[-1] == 0 and stages == sorted(stages, reverse=True)
    assert recorder.values("eval/explorer_success_rate")[-1] == 1.0
    guide_steps_used = recorder.values("episode/guide_steps")
    assert guide_steps_used[0] == 4 and set(guide_steps_used) == {4, 3, 2, 1, 0}
    assert len(recorder.values("eval/combined_return")) == len(recorder.values("eval/explorer_return"))
    assert recorder.values("curriculum/moving_average") and recorder.values("curriculum/best")


def test_random_mode_draws_h_from_every_stage_and_never_advances(tmp_path):
    recorder = Recorder()
    trainer = JSRLTrainer(lock_config(tmp_path, curriculum={"mode": "random"}), callbacks=[recorder])
    trainer.train()
    assert set(recorder.values("episode/guide_steps")) == {4, 3, 2, 1, 0}
    assert set(recorder.values("curriculum/stage")) == {0}


def test_guide_rule_measures_the_guides_reference_and_reaches_the_explorer_alone(tmp_path):
    recorder = Recorder()
    config = lock_config(tmp_path, curriculum={"rule": "guide", "window": 2}, total_env_steps=600)
    trainer = JSRLTrainer(config, callbacks=[recorder])
    trainer.train()
    assert recorder.values("curriculum/reference") == [1.0]  # the perfect guide, alone, on the eval env
    assert trainer.curriculum.reference == 1.0 and trainer.curriculum.done
    assert set(recorder.values("curriculum/threshold")) == {0.8}
    assert recorder.values("eval/explorer_success_rate")[-1] == 1.0


def test_h1_is_estimated_on_the_training_env_and_the_reference_on_the_evaluation_env(tmp_path, monkeypatch):
    import jsrl_learning.trainer as trainer_module
    seen = {}
    real_estimate, real_evaluate = trainer_module.estimate_h1, trainer_module.evaluate
    monkeypatch.setattr(trainer_module, "estimate_h1",
                        lambda env, *a, **k: seen.setdefault("h1", env) and real_estimate(env, *a, **k))
    monkeypatch.setattr(trainer_module, "evaluate",
                        lambda env, *a, **k: seen.setdefault("reference", env) and real_evaluate(env, *a, **k))
    trainer = JSRLTrainer(lock_config(tmp_path, curriculum={"rule": "guide"}))
    trainer.prepare()
    assert seen["h1"] is trainer.env and seen["reference"] is trainer.eval_env


def test_timeouts_are_terminal_only_when_configured(tmp_path):
    for terminal in (False, True):
        config = lock_config(tmp_path, total_env_steps=40, max_episode_steps=2, timeouts_terminal=terminal,
                             curriculum={"h1": 0})
        trainer = JSRLTrainer(config)
        trainer.train()
        terminals = trainer.online.terminals[:len(trainer.online)].reshape(-1, 2)  # 2-step episodes (lock of 4)
        assert (terminals[:, 0] == 0).all() and (terminals[:, 1] == float(terminal)).all()


def test_evaluation_runs_every_eval_every_steps(tmp_path):
    recorder = Recorder()
    JSRLTrainer(lock_config(tmp_path, total_env_steps=100, eval_every_steps=40), callbacks=[recorder]).train()
    eval_steps = [step for step, s in recorder.records if "eval/combined_return" in s]
    assert eval_steps == [40, 80]


def test_the_cpu_clock_keeps_collecting_and_learning_apart_from_evaluating(tmp_path):
    start = time.process_time()
    trainer = JSRLTrainer(lock_config(tmp_path, total_env_steps=100, eval_every_steps=40))
    trainer.train()
    total = time.process_time() - start
    parts = trainer.cpu.seconds
    assert set(parts) == {"prepare", "collect_and_learn", "evaluate", "checkpoint"}
    assert all(v >= 0.0 for v in parts.values()) and sum(parts.values()) <= total
    no_eval = JSRLTrainer(lock_config(tmp_path, total_env_steps=30, eval_every_steps=40))
    no_eval.train()
    assert "evaluate" not in no_eval.cpu.seconds


@pytest.mark.parametrize("guide_p", [1.0, 0.8])  # 0.8: the noisy guide's own RNG must resume too
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, guide_p):
    config = lock_config(tmp_path, total_env_steps=200, curriculum={"window": 2}, eval_every_steps=16,
                         guide={"kwargs": {"p": guide_p, "seed": 1}})
    straight = JSRLTrainer(config)
    straight.train(until_env_steps=60)
    path = straight.save(tmp_path / "mid.pt")
    straight.train(until_env_steps=120)

    resumed = JSRLTrainer.from_checkpoint(path)
    assert resumed.env_steps == 60
    resumed.train(until_env_steps=120)

    for field in ("obs", "actions", "rewards", "next_obs", "terminals"):
        assert np.array_equal(getattr(straight.online, field), getattr(resumed.online, field)), field
    assert straight.curriculum.state_dict() == resumed.curriculum.state_dict()
    assert (straight.env_steps, straight.episodes, straight.updates) == \
        (resumed.env_steps, resumed.episodes, resumed.updates)
    assert np.array_equal(straight.learner.q, resumed.learner.q)
    assert [straight.learner.act(s) for s in range(6) for _ in range(5)] == \
        [resumed.learner.act(s) for s in range(6) for _ in range(5)]
    assert straight.rng.random() == resumed.rng.random()


def test_checkpoint_holds_the_policy_and_config_yaml_beside_it(tmp_path):
    trainer = JSRLTrainer(lock_config(tmp_path, total_env_steps=40, checkpoint_every_steps=16))
    trainer.train()
    state = load_checkpoint(trainer.checkpoint_path)
    assert state["counters"]["env_steps"] == trainer.env_steps
    assert yaml.safe_load((trainer.checkpoint_path.parent / "config.yaml").read_text())["learner"] == "tabular_q"
    guide = PolicyCheckpointGuide.load(trainer.checkpoint_path)
    assert [guide.act(s) for s in range(HORIZON)] == [trainer.learner.act(s, explore=False) for s in range(HORIZON)]


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    trainer = JSRLTrainer(lock_config(tmp_path, total_env_steps=8))
    trainer.train()
    other = JSRLTrainer(lock_config(tmp_path))
    other.config.env_id = "Other-v0"
    with pytest.raises(ConfigError, match="checkpoint has env_id='jsrl/CombinationLock-v0', this run 'Other-v0'"):
        other.resume(trainer.checkpoint_path)


def saved_tabular_policy(trainer, path):
    save_checkpoint(path, {"policy": policy_state("tabular_q", {"epsilon": 0.3}, trainer.env.observation_space,
                                                  trainer.env.action_space, trainer.learner)})


def test_warm_start_copies_a_same_class_guide_into_the_explorer(tmp_path):
    teacher = JSRLTrainer(lock_config(tmp_path, total_env_steps=200))
    teacher.train()
    saved_tabular_policy(teacher, tmp_path / "teacher.pt")
    config = lock_config(tmp_path, warm_start=True, curriculum={"h1": HORIZON},
                         guide={"kind": "policy_checkpoint", "path": str(tmp_path / "teacher.pt")})
    student = JSRLTrainer(config)
    assert not np.array_equal(student.learner.q, teacher.learner.q)
    student.prepare()
    assert np.array_equal(student.learner.q, teacher.learner.q)
    student.learner.q[0, 0] += 1.0  # a copy, not shared with the guide
    assert student.learner.q[0, 0] != student.guide.learner.q[0, 0]


def test_warm_start_from_a_scripted_guide_is_a_clear_error(tmp_path):
    trainer = JSRLTrainer(lock_config(tmp_path, warm_start=True))
    with pytest.raises(ConfigError, match="warm_start: the guide must be a policy_checkpoint .* is NoisyLockGuide"):
        trainer.prepare()


def test_offline_dataset_pretrains_and_is_mixed_into_replay(tmp_path):
    n = 32
    obs = np.tile([0, 1, 2, 3], n // 4)
    data = from_arrays(obs, np.zeros(n, np.int64), np.zeros(n), np.minimum(obs + 1, 4), (obs == 3).astype(float))
    save_npz(tmp_path / "offline.npz", data)
    recorder = Recorder()
    config = lock_config(tmp_path, offline_dataset=str(tmp_path / "offline.npz"), offline_updates=5,
                         total_env_steps=8)
    trainer = JSRLTrainer(config, callbacks=[recorder])
    trainer.train()
    assert isinstance(trainer.replay, MixedReplay) and len(trainer.offline) == n
    assert recorder.records[0][0] == 5 and "offline/td_abs" in recorder.records[0][1]
    assert trainer.learner.updates >= 5 * config.batch_size


def test_an_explicit_guide_object_and_env_factory_are_used(tmp_path):
    def env_factory():
        return CombinationLockEnv(horizon=3, n_actions=2, combination=[1, 1, 1])

    trainer = JSRLTrainer(lock_config(tmp_path, guide={"kind": "external"}, total_env_steps=3),
                          guide=ScriptedGuide(lambda obs: 1), env_factory=env_factory)
    trainer.train()
    assert trainer.h1 == 3 and trainer.online.actions[:3].tolist() == [1, 1, 1]


# ----- configuration errors ------------------------------------------------------------

def write_yaml(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_load_train_config_reads_nested_sections(tmp_path):
    path = write_yaml(tmp_path / "run.yaml", {"env_id": "jsrl/CombinationLock-v0", "learner": "tabular_q",
                                              "curriculum": {"mode": "random", "n_stages": 3}})
    config = load_train_config(path)
    assert config.curriculum.mode == "random" and config.curriculum.n_stages == 3


@pytest.mark.parametrize("data, message", [
    ({"env_id": "X", "learner": "tabular_q", "total_env_stepz": 5}, r"run.yaml: unknown key\(s\) 'total_env_stepz'"),
    ({"env_id": "X", "learner": "tabular_q", "curriculum": {"n_stages": 0}},
     r"run.yaml.curriculum: n_stages must be a positive int"),
    ({"env_id": "X", "learner": "tabular_q", "curriculum": {"windw": 3}},
     r"run.yaml.curriculum: unknown key\(s\) 'windw'"),
    ({"env_id": "X", "learner": "tabular_q", "offline_dataset": "/no/such/data.npz"},
     "offline_dataset: dataset file not found: /no/such/data.npz"),
    ({"env_id": "X", "learner": "tabular_q", "offline_dataset": "no/such-v0"},
     "offline_dataset: dataset 'no/such-v0' not found"),
    ({"env_id": "X", "learner": "sarsa"}, "learner: unknown learner 'sarsa'"),
    ({"learner": "tabular_q"}, "run.yaml: .*env_id"),
    ({"env_id": "X", "learner": "tabular_q", "online_fraction": 1.5}, "online_fraction must be in"),
    ({"env_id": "X", "learner": "tabular_q", "offline_updates": 10}, "offline_updates > 0 needs offline_dataset"),
    ({"env_id": "X", "learner": "tabular_q", "guide": {"kind": "bc", "path": "/no/bc.pt"}},
     r"run.yaml.guide: path: file not found: /no/bc.pt"),
])
def test_bad_train_configs_fail_naming_the_problem(tmp_path, monkeypatch, data, message):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with pytest.raises(ConfigError, match=message):
        load_train_config(write_yaml(tmp_path / "run.yaml", data))


def test_resume_is_exact_with_a_neural_learner_on_continuous_actions(tmp_path):
    """IQL on Pendulum: torch networks, optimiser state and the actor's noise generator all resume."""
    config = from_mapping(TrainConfig, {
        "env_id": "Pendulum-v1", "max_episode_steps": 20, "total_env_steps": 100, "learner": "iql",
        "learner_config": {"hidden": [16, 16]}, "curriculum": {"h1": 10, "n_stages": 2, "window": 1},
        "batch_size": 16, "eval_every_steps": 40, "eval_episodes": 1, "out_dir": str(tmp_path / "run"),
    }, "test config")
    guide = ScriptedGuide(lambda obs: np.zeros(1, np.float32))
    straight = JSRLTrainer(config, guide=guide)
    straight.train(until_env_steps=40)
    path = straight.save(tmp_path / "mid.pt")
    straight.train(until_env_steps=80)
    resumed = JSRLTrainer.from_checkpoint(path, guide=guide)
    resumed.train(until_env_steps=80)

    assert np.array_equal(straight.online.obs, resumed.online.obs)
    assert np.array_equal(straight.online.actions, resumed.online.actions)
    assert straight.curriculum.state_dict() == resumed.curriculum.state_dict()
    obs = np.array([1.0, 0.0, 0.5], np.float32)
    assert np.array_equal(straight.learner.act(obs), resumed.learner.act(obs))
    assert np.array_equal(straight.learner.act(obs, explore=False), resumed.learner.act(obs, explore=False))


def test_eval_env_kwargs_override_the_training_env_for_evaluation_only(tmp_path):
    recorder = Recorder()
    config = lock_config(tmp_path, total_env_steps=40, eval_every_steps=20, curriculum={"h1": 0})
    config.eval_env_kwargs = {"seed": 4}
    trainer = JSRLTrainer(config, callbacks=[recorder])
    train_lock, eval_lock = trainer.env.unwrapped, trainer.eval_env.unwrapped
    assert (train_lock.horizon, eval_lock.horizon) == (HORIZON, HORIZON)
    assert not np.array_equal(train_lock.combination, eval_lock.combination)  # another lock: seed 4, not 3
    assert np.array_equal(eval_lock.combination, CombinationLockEnv(HORIZON, 2, seed=4).combination)
    trainer.train()
    # h = 0: the combined policy is the explorer alone, scored once
    assert recorder.values("eval/combined_return") == recorder.values("eval/explorer_return")
    with pytest.raises(ConfigError, match="eval_env_kwargs"):
        JSRLTrainer(config, env_factory=lambda: CombinationLockEnv(HORIZON, 2, seed=3))
