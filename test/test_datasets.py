"""Offline data: arrays, .npz files and Minari datasets, all as a Batch."""
import gymnasium as gym
import minari
import numpy as np
import pytest
from minari.data_collector.episode_buffer import EpisodeBuffer

from jsrl_learning.buffers import Batch
from jsrl_learning.datasets import (
    DatasetError, from_arrays, load_dataset, load_minari, load_npz, locate_dataset, save_minari, save_npz,
)
from jsrl_learning.envs import CombinationLockEnv
from jsrl_learning.guides.scripted import ScriptedGuide
from jsrl_learning.rollout import run_episode

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Minari's "please add an author" notes
METADATA = {"author": "test", "author_email": "test@example.org", "code_permalink": "none",
            "algorithm_name": "scripted", "description": "test data"}


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def transitions(n=4, obs_dim=3):
    rng = np.random.default_rng(0)
    return dict(obs=rng.normal(size=(n, obs_dim)), actions=rng.normal(size=(n, 2)), rewards=np.arange(n),
                next_obs=rng.normal(size=(n, obs_dim)), terminals=np.eye(n)[-1])


def assert_batches_equal(a: Batch, b: Batch):
    for f in Batch.FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_from_arrays_packs_float32_rewards_and_terminals():
    batch = from_arrays(**transitions())
    assert len(batch) == 4 and batch.obs.dtype == np.float32 and batch.actions.dtype == np.float32
    assert batch.rewards.dtype == np.float32 and batch.terminals.tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("field, bad, message", [
    ("actions", np.zeros((3, 2)), "actions has 3 entries but obs has 4"),
    ("rewards", np.zeros((4, 1)), "rewards must be 1-D"),
    ("next_obs", np.zeros((4, 5)), r"next_obs shape \(4, 5\) != obs shape \(4, 3\)"),
    ("terminals", np.float32(0), "terminals must have a leading transition axis"),
])
def test_from_arrays_names_the_bad_field(field, bad, message):
    data = transitions()
    data[field] = bad
    with pytest.raises(DatasetError, match=message):
        from_arrays(**data)


def test_npz_round_trip(tmp_path):
    batch = from_arrays(**transitions())
    save_npz(tmp_path / "d.npz", batch)
    assert_batches_equal(load_npz(tmp_path / "d.npz"), batch)
    assert_batches_equal(load_dataset(str(tmp_path / "d.npz")), batch)


def test_npz_missing_array_is_named(tmp_path):
    data = transitions()
    del data["terminals"]
    np.savez(tmp_path / "d.npz", **data)
    with pytest.raises(DatasetError, match=r"d.npz: missing array\(s\) terminals"):
        load_npz(tmp_path / "d.npz")


def test_missing_datasets_are_named(tmp_path, minari_root):
    with pytest.raises(DatasetError, match="dataset file not found: .*gone.npz"):
        load_dataset(str(tmp_path / "gone.npz"))
    with pytest.raises(DatasetError, match=r"dataset 'jsrl/lock/none-v0' not found.*MINARI_DATASETS_PATH"):
        load_dataset("jsrl/lock/none-v0")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DatasetError, match="empty_dir: not a Minari dataset"):
        load_minari(str(tmp_path / "empty_dir"))


def lock_episodes():
    env = CombinationLockEnv(horizon=3, n_actions=2, combination=[1, 0, 1])
    right = ScriptedGuide(env.correct_action)
    return env, [run_episode(env, right, lambda obs: 0, h, seed=h) for h in (3, 1, 0)]


def test_minari_round_trip_discrete(minari_root):
    env, episodes = lock_episodes()
    path = save_minari(episodes, "jsrl/lock/demo-v0", env=env, **METADATA)
    assert path == minari_root / "jsrl" / "lock" / "demo-v0" and path.is_dir()
    expected = Batch.concatenate([e.to_batch() for e in episodes])
    assert_batches_equal(load_minari("jsrl/lock/demo-v0"), expected)
    assert_batches_equal(load_minari(str(path)), expected)  # by directory too
    assert_batches_equal(load_dataset(str(path / "data")), expected)
    assert minari.load_dataset("jsrl/lock/demo-v0").total_episodes == 3


def test_minari_round_trip_continuous_with_time_limit(minari_root):
    env = gym.make("Pendulum-v1", max_episode_steps=5)
    guide = ScriptedGuide(lambda obs: np.array([0.5], np.float32))
    episodes = [run_episode(env, guide, lambda obs: np.array([-0.5], np.float32), 2, seed=s) for s in (0, 1)]
    save_minari(episodes, "pendulum/test-v0", env=env, **METADATA)
    batch = load_minari("pendulum/test-v0")
    assert_batches_equal(batch, Batch.concatenate([e.to_batch() for e in episodes]))
    assert batch.obs.shape == (10, 3) and batch.terminals.sum() == 0  # truncation is not terminal


def test_save_minari_needs_episodes_and_refuses_an_existing_id(minari_root):
    env, episodes = lock_episodes()
    with pytest.raises(DatasetError, match="no episodes"):
        save_minari([], "jsrl/lock/x-v0", env=env)
    save_minari(episodes, "jsrl/lock/x-v0", env=env, **METADATA)
    with pytest.raises(ValueError, match="already exists"):
        save_minari(episodes, "jsrl/lock/x-v0", env=env, **METADATA)


def test_minari_dict_observations_are_flattened_in_key_order(minari_root):
    space = gym.spaces.Dict({"observation": gym.spaces.Box(-9, 9, (2,)), "goal": gym.spaces.Box(-9, 9, (1,))})
    obs = {"observation": np.array([[0, 1], [2, 3], [4, 5]], np.float32), "goal": np.full((3, 1), 7, np.float32)}
    buffer = EpisodeBuffer(observations=obs, actions=np.array([[0.1], [0.2]], np.float32),
                           rewards=np.array([0.0, 1.0]), terminations=np.array([False, True]),
                           truncations=np.array([False, False]), infos={})
    minari.create_dataset_from_buffers("maze/dict-v0", [buffer], observation_space=space,
                                       action_space=gym.spaces.Box(-1, 1, (1,)), **METADATA)
    batch = load_minari("maze/dict-v0")
    order = list(space.spaces)  # gymnasium's own key order, as FlattenObservation uses
    flat = np.concatenate([obs[k] for k in order], axis=1)
    np.testing.assert_array_equal(batch.obs, flat[:-1])
    np.testing.assert_array_equal(batch.next_obs, flat[1:])
    np.testing.assert_array_equal(gym.spaces.flatten(space, {k: obs[k][0] for k in order}), flat[0])


def test_locate_dataset_tells_npz_from_minari(tmp_path, minari_root):
    save_npz(tmp_path / "d.npz", from_arrays(**transitions()))
    assert locate_dataset(str(tmp_path / "d.npz")) == ("npz", tmp_path / "d.npz")
    env, episodes = lock_episodes()
    save_minari(episodes, "jsrl/lock/loc-v0", env=env, **METADATA)
    assert locate_dataset("jsrl/lock/loc-v0") == ("minari", minari_root / "jsrl" / "lock" / "loc-v0" / "data")
