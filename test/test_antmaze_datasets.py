"""AntMaze datasets: the noisy guide's transitions round-trip through Minari; IQL's AntMaze recipe
(reward shift, standardised observations) lives in the learner, not in the data."""
import json

import gymnasium as gym
import minari
import numpy as np
import pytest
import torch

from jsrl_bench.antmaze.datasets import (ANTMAZE_ENV_ID, antmaze_guide, collect_transitions, default_dataset_id,
                                         generate_antmaze_dataset)
from jsrl_bench.cli.main import main
from jsrl_learning.buffers import Batch
from jsrl_learning.datasets import load_minari
from jsrl_learning.guides import make_guide
from jsrl_learning.learners.iql import IQLConfig, IQLLearner

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Minari's metadata notes
N = 420  # one whole successful umaze episode (~280-340 steps) and the start of a second, cut


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("minari")
    record = generate_antmaze_dataset("umaze", N, 0.2, "test/antmaze-umaze-v0", seed=5, root=root)
    return root, record


def test_dataset_opens_with_minari_and_holds_exactly_n_transitions(generated, monkeypatch):
    root, record = generated
    assert record.transitions == N and record.episodes == 2 and record.successes == 1
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    dataset = minari.load_dataset("test/antmaze-umaze-v0")
    assert dataset.total_steps == N and dataset.total_episodes == 2
    assert dataset.observation_space.shape == (31,) and dataset.action_space.shape == (8,)
    first, second = dataset.iterate_episodes()
    assert first.terminations[-1] and not first.truncations[-1] and first.rewards[-1] == 1.0
    assert second.truncations[-1] and not second.terminations.any()  # the cut is a truncation
    assert len(first.observations) == len(first.actions) + 1


def test_transitions_chain_and_rewards_are_raw(generated):
    root, _ = generated
    batch = load_minari(str(root / "test" / "antmaze-umaze-v0"))
    assert batch.obs.shape == batch.next_obs.shape == (N, 31) and batch.actions.shape == (N, 8)
    assert batch.obs.dtype == np.float32 and np.all(np.abs(batch.actions) <= 1.0)
    assert set(np.unique(batch.rewards)) == {0.0, 1.0}  # stored raw; IQL's -1 is the learner's
    np.testing.assert_array_equal(batch.terminals, batch.rewards)  # the goal ends the episode
    end = int(np.flatnonzero(batch.terminals)[0])
    np.testing.assert_array_equal(batch.next_obs[:end], batch.obs[1:end + 1])  # consecutive steps
    assert np.linalg.norm(batch.next_obs[end, :2] - batch.next_obs[end, 29:]) <= 0.45  # at the goal
    assert np.linalg.norm(batch.obs[end + 1, :2] - batch.obs[0, :2]) < 2 * np.sqrt(2)  # next episode: a new start


def test_noise_is_seeded_and_perturbs_the_guide():
    env = gym.make(ANTMAZE_ENV_ID, maze="umaze")

    def actions(noise, seed):
        guide = make_guide(antmaze_guide(noise, seed), env)
        return np.concatenate([e.actions for e in collect_transitions(env, guide, 30, seed=1)])

    same, again, other, clean = actions(0.2, 3), actions(0.2, 3), actions(0.2, 4), actions(0.0, 3)
    assert same.shape == (30, 8)
    np.testing.assert_array_equal(same, again)
    assert not np.allclose(same, other) and not np.allclose(same, clean)


def test_cli_generates_and_refuses_bad_or_existing_ids(tmp_path, capsys):
    args = ["datasets", "antmaze", "--maze", "umaze", "--transitions", "25", "--root", str(tmp_path),
            "--summary", str(tmp_path / "summary.json")]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dataset_id"] == default_dataset_id("umaze", 25, 0.2) == "jsrl/antmaze/umaze-25-noise0p2-seed0-v0"
    assert summary["transitions"] == 25 and summary["noise"] == 0.2 and summary["wall_s"] > 0
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args[:6], "--dataset-id", "bad id!", "--root", str(tmp_path)]) == 2
    assert "bad id!" in capsys.readouterr().err


def _learner(shift):
    obs = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    return IQLLearner(IQLConfig(hidden=[16], reward_shift=shift, seed=1), obs, gym.spaces.Box(-1, 1, (2,), np.float32))


def test_reward_shift_is_applied_to_sampled_batches():
    rng = np.random.default_rng(0)
    obs, next_obs = rng.normal(size=(2, 32, 4)).astype(np.float32)
    actions = rng.uniform(-1, 1, (32, 2)).astype(np.float32)
    rewards = (rng.random(32) < 0.3).astype(np.float32)
    terminals = rewards.copy()
    shifted, pre_shifted, unshifted = _learner(-1.0), _learner(0.0), _learner(0.0)
    for _ in range(3):
        shifted.update(Batch(obs, actions, rewards, next_obs, terminals))
        pre_shifted.update(Batch(obs, actions, rewards - 1.0, next_obs, terminals))
        unshifted.update(Batch(obs, actions, rewards, next_obs, terminals))
    for name, value in shifted.critic.state_dict().items():
        torch.testing.assert_close(value, pre_shifted.critic.state_dict()[name])  # same as shifting the data
    q = lambda learner: learner.critic(torch.from_numpy(obs), torch.from_numpy(actions)).mean().item()  # noqa: E731
    assert q(shifted) < q(unshifted) - 1e-3  # and it is not a no-op: -1 per step lowers Q
    with pytest.raises(ValueError, match="reward_shift"):
        IQLConfig(reward_shift=float("nan")).validate("iql")


def test_observation_statistics_standardise_inside_the_learner():
    rng = np.random.default_rng(1)
    mean, std = np.array([10.0, -2.0, 0.0, 1.0], np.float32), np.array([4.0, 0.5, 1.0, 2.0], np.float32)
    obs, next_obs = (mean + std * rng.normal(size=(2, 32, 4))).astype(np.float32)
    actions = rng.uniform(-1, 1, (32, 2)).astype(np.float32)
    rewards = np.zeros(32, np.float32)
    space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    inside = IQLLearner(IQLConfig(hidden=[16], seed=1, obs_mean=mean.tolist(), obs_std=std.tolist()), space,
                        gym.spaces.Box(-1, 1, (2,), np.float32))
    outside = _learner(0.0)  # fed pre-standardised data instead
    for _ in range(3):
        inside.update(Batch(obs, actions, rewards, next_obs, rewards))
        outside.update(Batch((obs - mean) / std, actions, rewards, (next_obs - mean) / std, rewards))
    np.testing.assert_allclose(inside.act(obs[:5], explore=False), outside.act((obs[:5] - mean) / std, explore=False),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="obs_mean"):
        IQLLearner(IQLConfig(obs_mean=[0.0], obs_std=[1.0]), space, gym.spaces.Box(-1, 1, (2,), np.float32))
