"""Offline data: arrays, .npz files and Minari datasets, all as a Batch."""
import gymnasium as gym
import minari
import numpy as np
import pytest

from jsrl_learning.buffers import Batch, take_obs
from jsrl_learning.datasets import (
    DatasetError, from_arrays, load_dataset, load_minari, load_npz, locate_dataset, save_minari, save_npz,
)
from jsrl_learning.envs import CombinationLockEnv
from jsrl_learning.episode import Episode
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
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(y, dict):
            assert isinstance(x, dict) and list(x) == list(y), f
            for k in y:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{f}[{k}]")
        else:
            np.testing.assert_array_equal(x, y, err_msg=f)


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


CAMERA = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (6, 6, 3), np.uint8),
                          "proprio": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})


def camera_episode(length: int, seed: int, terminated: bool) -> Episode:
    """An episode with Dict(image, proprio) observations, as the grasping env's image mode gives."""
    rng = np.random.default_rng(seed)
    frames = {"image": rng.integers(0, 256, (length + 1, 6, 6, 3), dtype=np.uint8),
              "proprio": rng.uniform(-1, 1, (length + 1, 2)).astype(np.float32)}
    ends = np.zeros(length, bool)
    ends[-1] = True
    return Episode(obs=take_obs(frames, slice(None, -1)), actions=rng.uniform(-1, 1, (length, 5)).astype(np.float32),
                   rewards=ends * 1.0, next_obs=take_obs(frames, slice(1, None)),
                   terminated=ends & terminated, truncated=ends & (not terminated),
                   controller=["guide"] * length, success=terminated, guide_steps=length)


def test_minari_round_trip_keeps_dict_observations_and_uint8_images(minari_root):
    episodes = [camera_episode(4, seed=0, terminated=True), camera_episode(3, seed=1, terminated=False)]
    save_minari(episodes, "grasp/dict-v0", observation_space=CAMERA,
                action_space=gym.spaces.Box(-1, 1, (5,), np.float32), **METADATA)
    batch = load_minari("grasp/dict-v0")
    expected = Batch.concatenate([e.to_batch() for e in episodes])
    assert isinstance(batch.obs, dict) and list(batch.obs) == ["image", "proprio"]
    assert batch.obs["image"].dtype == np.uint8 and batch.obs["image"].shape == (7, 6, 6, 3)
    assert batch.next_obs["proprio"].dtype == np.float32
    assert_batches_equal(batch, expected)
    assert batch.terminals.tolist() == [0, 0, 0, 1, 0, 0, 0]  # the second episode was cut by a time limit


def test_npz_round_trip_keeps_dict_observations(tmp_path):
    batch = camera_episode(5, seed=2, terminated=True).to_batch()
    save_npz(tmp_path / "d.npz", batch)
    loaded = load_npz(tmp_path / "d.npz")
    assert_batches_equal(loaded, batch)
    assert loaded.obs["image"].dtype == np.uint8


def test_from_arrays_checks_dict_observations_key_by_key():
    obs = {"image": np.zeros((4, 6, 6, 3), np.uint8), "proprio": np.zeros((4, 2))}
    batch = from_arrays(obs, np.zeros((4, 5)), np.zeros(4), obs, np.zeros(4))
    assert batch.obs["proprio"].dtype == np.float32 and batch.obs["image"].dtype == np.uint8
    with pytest.raises(DatasetError, match=r"obs\['proprio'\] has 3 entries but obs\['image'\] has 4"):
        from_arrays({**obs, "proprio": np.zeros((3, 2))}, np.zeros((4, 5)), np.zeros(4), obs, np.zeros(4))
    with pytest.raises(DatasetError, match=r"next_obs has keys \['image'\] but obs has \['image', 'proprio'\]"):
        from_arrays(obs, np.zeros((4, 5)), np.zeros(4), {"image": obs["image"]}, np.zeros(4))
    with pytest.raises(DatasetError, match=r"next_obs\['image'\] shape \(4, 6, 6, 1\) != obs\['image'\] shape"):
        from_arrays(obs, np.zeros((4, 5)), np.zeros(4), {**obs, "image": np.zeros((4, 6, 6, 1), np.uint8)},
                    np.zeros(4))


def test_locate_dataset_tells_npz_from_minari(tmp_path, minari_root):
    save_npz(tmp_path / "d.npz", from_arrays(**transitions()))
    assert locate_dataset(str(tmp_path / "d.npz")) == ("npz", tmp_path / "d.npz")
    env, episodes = lock_episodes()
    save_minari(episodes, "jsrl/lock/loc-v0", env=env, **METADATA)
    assert locate_dataset("jsrl/lock/loc-v0") == ("minari", minari_root / "jsrl" / "lock" / "loc-v0" / "data")
