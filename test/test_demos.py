"""Scripted grasp demonstrations -> Minari (opens offline) -> behaviour cloning that learns them."""
import gymnasium as gym
import minari
import numpy as np
import pytest

from jsrl_bench.cli.main import main
from jsrl_bench.demos import collect_demos, minari_root, record_demos
from jsrl_bench.grasp.world import GRASP_ENV_ID, grasp_env_kwargs, grasp_scripted_guide
from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import load_dataset
from jsrl_learning.guides import BCConfig, BCGuide, ScriptedGuide, make_guide

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Minari's and gymnasium's notes
CLOSE_AT_ONCE = np.array([0.0, 0.0, 0.0, 0.0, 1.0], np.float32)  # grasps mid-air: always fails


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    return tmp_path / "minari"


@pytest.fixture(scope="module")
def state_demos():
    env = gym.make(GRASP_ENV_ID, **grasp_env_kwargs("indiscriminate", "state"))
    demos = collect_demos(env, make_guide(grasp_scripted_guide(), env), 10, seed=100)
    return env, demos


def test_state_demos_round_trip_through_minari_and_open_with_minari_load_dataset(root):
    record = record_demos(GRASP_ENV_ID, grasp_env_kwargs("indiscriminate", "state"), grasp_scripted_guide(), 3,
                          "jsrl/grasp/test-state-v0", seed=5, root=root)
    assert record.path == root / "jsrl" / "grasp" / "test-state-v0" and record.episodes == 3
    with minari_root(root):
        dataset = minari.load_dataset("jsrl/grasp/test-state-v0")
        batch = load_dataset("jsrl/grasp/test-state-v0")
    assert dataset.total_episodes == 3 and dataset.total_steps == record.transitions == len(batch)
    assert dataset.spec.env_spec.kwargs["object_set"] == "train"
    for episode in dataset.iterate_episodes():  # every kept demo is a success: one reward, at its end
        assert episode.rewards.sum() == 1.0 and episode.rewards[-1] == 1.0 and episode.terminations[-1]
    assert batch.obs.shape == (record.transitions, 46) and batch.terminals.sum() == 3


def test_image_demos_are_stored_losslessly(root):
    kwargs = grasp_env_kwargs("instance", "image")
    record_demos(GRASP_ENV_ID, kwargs, grasp_scripted_guide(), 1, "jsrl/grasp/test-image-v0", seed=7, root=root)
    env = gym.make(GRASP_ENV_ID, **kwargs)
    expected = collect_demos(env, make_guide(grasp_scripted_guide(), env), 1, seed=7).episodes[0].to_batch()
    loaded = load_dataset(str(root / "jsrl" / "grasp" / "test-image-v0"))
    assert loaded.obs["image"].dtype == np.uint8 and loaded.obs["image"].shape[1:] == (64, 64, 3)
    for key in ("image", "proprio"):  # not JPEG-encoded: bit for bit what the guide saw
        np.testing.assert_array_equal(loaded.obs[key], expected.obs[key])
        np.testing.assert_array_equal(loaded.next_obs[key], expected.next_obs[key])
    np.testing.assert_array_equal(loaded.actions, expected.actions)


def test_only_successes_are_kept_unless_asked_and_a_hopeless_guide_is_an_error():
    env = gym.make(GRASP_ENV_ID, **grasp_env_kwargs("indiscriminate", "state", object_set="shapes"))
    hopeless = ScriptedGuide(lambda obs: CLOSE_AT_ONCE)
    with pytest.raises(RuntimeError, match="only 0 successful episodes in 4 attempts"):
        collect_demos(env, hopeless, 2, seed=0, max_attempts=4)
    kept = collect_demos(env, hopeless, 2, seed=0, successful_only=False)
    assert kept.attempts == 2 and [e.length for e in kept.episodes] == [1, 1]
    assert kept.guide_success_rate == 0.0


def test_cli_records_grasp_demos_and_names_bad_settings(root, capsys):
    argv = ["demos", "grasp", "--episodes", "2", "--dataset-id", "jsrl/grasp/cli-v0", "--root", str(root)]
    assert main(argv) == 0
    assert "2 episodes" in capsys.readouterr().out
    with minari_root(root):
        assert minari.load_dataset("jsrl/grasp/cli-v0").total_episodes == 2
    assert main(argv[:-4] + ["--dataset-id", "jsrl/grasp/bad-v0", "--object-set", "nope"]) == 2
    assert "object_set" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="object_set"):
        record_demos(GRASP_ENV_ID, {"object_set": "nope"}, grasp_scripted_guide(), 1, "jsrl/grasp/x-v0", root=root)


def test_bc_learns_the_state_demos(state_demos):
    env, demos = state_demos
    data = Batch.concatenate([e.to_batch() for e in demos.episodes])
    bc = BCGuide.train(data, BCConfig(hidden=[64, 64], n_updates=800, batch_size=64, seed=0), env.action_space)
    predicted = np.stack([bc.act(o) for o in data.obs])
    error = np.mean((predicted - data.actions) ** 2)
    baseline = np.mean((data.actions - data.actions.mean(axis=0)) ** 2)  # predicting the mean action
    assert error < 0.05 * baseline
    closes = data.actions[:, 4] > 0  # the grasp decision, which ends the episode, is learned exactly
    assert np.array_equal(predicted[:, 4] > 0, closes)


def test_bc_learns_image_demos(root):
    kwargs = grasp_env_kwargs("indiscriminate", "image")
    record = record_demos(GRASP_ENV_ID, kwargs, grasp_scripted_guide(), 2, "jsrl/grasp/bc-image-v0", seed=11,
                          root=root)
    data = load_dataset(str(record.path))
    bc = BCGuide.train(data, BCConfig(hidden=[64], lr=1e-3, n_updates=300, batch_size=16, seed=0),
                       gym.make(GRASP_ENV_ID, **kwargs).action_space)
    predicted = np.stack([bc.act({k: v[i] for k, v in data.obs.items()}) for i in range(len(data))])
    baseline = np.mean((data.actions - data.actions.mean(axis=0)) ** 2)
    assert np.mean((predicted - data.actions) ** 2) < 0.2 * baseline
    assert bc.losses[-1] < 0.2 * bc.losses[0]
