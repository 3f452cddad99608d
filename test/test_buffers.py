"""Replay buffers: FIFO ring order, Dict observations stored per key in their own dtype, mixing."""
import gymnasium as gym
import numpy as np
import pytest

from jsrl_learning.buffers import Batch, MixedReplay, ReplayBuffer, concat_obs, take_obs

CAMERA = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
                          "proprio": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})
ACT = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)


def camera_batch(n: int, start: int = 0) -> Batch:
    """Transition ``i`` is recognisable in every field: image pixels and proprio hold ``start + i``."""
    ids = np.arange(start, start + n)
    obs = {"image": np.broadcast_to(ids[:, None, None, None] % 256, (n, 8, 8, 3)).astype(np.uint8),
           "proprio": np.stack([ids, -ids], axis=1).astype(np.float32)}
    next_obs = {"image": obs["image"] + np.uint8(1), "proprio": obs["proprio"] + 0.5}
    actions = np.repeat(ids[:, None], 5, axis=1).astype(np.float32)
    return Batch(obs, actions, ids.astype(np.float32), next_obs, (ids % 3 == 0).astype(np.float32))


def assert_same(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
            assert a[k].dtype == b[k].dtype, k
    else:
        np.testing.assert_array_equal(a, b)


def assert_batches_equal(a: Batch, b: Batch):
    for f in Batch.FIELDS:
        assert_same(getattr(a, f), getattr(b, f))


def test_dict_observations_are_preallocated_per_key_in_their_own_dtype():
    buffer = ReplayBuffer.for_spaces(10, CAMERA, ACT)
    assert buffer.obs["image"].dtype == np.uint8 and buffer.obs["image"].shape == (10, 8, 8, 3)
    assert buffer.next_obs["proprio"].dtype == np.float32 and buffer.next_obs["proprio"].shape == (10, 2)
    assert buffer.actions.shape == (10, 5) and len(buffer) == 0


def test_dict_batch_round_trip_in_insertion_order():
    buffer = ReplayBuffer.for_spaces(10, CAMERA, ACT)
    batch = camera_batch(4)
    buffer.add_batch(batch)
    stored = Batch(*(take_obs(getattr(buffer, f), slice(0, 4)) for f in Batch.FIELDS))
    assert_batches_equal(stored, batch)


def test_the_ring_keeps_the_newest_transitions_like_repeated_adds():
    batched, stepwise = ReplayBuffer.for_spaces(5, CAMERA, ACT), ReplayBuffer.for_spaces(5, CAMERA, ACT)
    for start, n in ((0, 3), (3, 4), (7, 12)):  # the last one is longer than the capacity
        part = camera_batch(n, start)
        batched.add_batch(part)
        for i in range(n):
            row = take_obs(part.obs, i), part.actions[i], part.rewards[i], take_obs(part.next_obs, i)
            stepwise.add(*row, bool(part.terminals[i]))
    assert len(batched) == 5 and batched.rewards.tolist() == [15, 16, 17, 18, 14]
    assert batched.obs["proprio"][:, 0].tolist() == [15, 16, 17, 18, 14]
    for f in Batch.FIELDS:
        assert_same(getattr(batched, f), getattr(stepwise, f))


def test_sampling_keeps_each_transition_together_across_keys():
    buffer = ReplayBuffer.for_spaces(50, CAMERA, ACT)
    buffer.add_batch(camera_batch(30))
    sample = buffer.sample(64, np.random.default_rng(0))
    ids = sample.rewards
    assert len(sample) == 64 and len(np.unique(ids)) > 10
    assert sample.obs["image"].dtype == np.uint8
    np.testing.assert_array_equal(sample.obs["image"][:, 0, 0, 0], ids % 256)
    np.testing.assert_array_equal(sample.obs["proprio"][:, 1], -ids)
    np.testing.assert_array_equal(sample.next_obs["image"][:, 3, 3, 2], ids % 256 + 1)
    np.testing.assert_array_equal(sample.next_obs["proprio"][:, 0], ids + 0.5)
    np.testing.assert_array_equal(sample.actions[:, 4], ids)
    np.testing.assert_array_equal(sample.terminals, ids % 3 == 0)


def test_state_dict_restores_dict_observations():
    buffer = ReplayBuffer.for_spaces(8, CAMERA, ACT)
    buffer.add_batch(camera_batch(11))
    restored = ReplayBuffer.for_spaces(8, CAMERA, ACT)
    restored.load_state_dict(buffer.state_dict())
    assert len(restored) == 8
    for f in Batch.FIELDS:
        assert_same(getattr(restored, f), getattr(buffer, f))
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert_batches_equal(buffer.sample(16, rng_a), restored.sample(16, rng_b))


def test_wrong_dict_observations_are_named():
    buffer = ReplayBuffer.for_spaces(4, CAMERA, ACT)
    part = camera_batch(2)
    with pytest.raises(ValueError, match=r"obs must be a dict with keys \['image', 'proprio'\], got keys \['image'\]"):
        buffer.add({"image": part.obs["image"][0]}, part.actions[0], 0.0, take_obs(part.next_obs, 0), False)
    as_objects = np.array([take_obs(part.obs, 0), take_obs(part.obs, 1)], dtype=object)
    with pytest.raises(ValueError, match="got a ndarray"):
        buffer.add_batch(Batch(as_objects, part.actions, part.rewards, part.next_obs, part.terminals))
    with pytest.raises(ValueError, match="Dict observations with keys"):
        concat_obs([part.obs, {"image": part.obs["image"]}])


def test_for_spaces_keeps_discrete_ids_and_refuses_other_spaces():
    buffer = ReplayBuffer.for_spaces(3, gym.spaces.Discrete(4), gym.spaces.Discrete(2))
    assert buffer.obs.dtype == np.int64 and buffer.obs.shape == (3,) and buffer.actions.shape == (3,)
    with pytest.raises(ValueError, match=r"observation_space\['task'\] must be a Box or Discrete"):
        ReplayBuffer.for_spaces(3, gym.spaces.Dict({"task": gym.spaces.MultiBinary(3)}), ACT)


def test_mixed_replay_concatenates_dict_samples_in_the_asked_fraction():
    offline, online = ReplayBuffer.for_spaces(20, CAMERA, ACT), ReplayBuffer.for_spaces(20, CAMERA, ACT)
    offline.add_batch(camera_batch(10, start=0))
    online.add_batch(camera_batch(10, start=100))
    sample = MixedReplay(offline, online, online_fraction=0.75).sample(40, np.random.default_rng(0))
    assert len(sample) == 40 and sample.obs["image"].shape == (40, 8, 8, 3)
    assert (sample.rewards >= 100).sum() == 30
    np.testing.assert_array_equal(sample.obs["proprio"][:, 0], sample.rewards)
