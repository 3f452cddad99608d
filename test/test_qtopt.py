"""QT-Opt: Q regression converges, CEM acting finds the best action, images work, resume is exact."""
import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACT = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
HALF = (ACT.high - ACT.low) / 2
IMAGES = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)


def learner(seed: int = 0, obs_space: gym.Space = OBS, **overrides) -> QTOptLearner:
    config = from_mapping(QTOptConfig, {"hidden": [32, 32], "lr": 1e-3, "seed": seed, **overrides}, "learner")
    return QTOptLearner(config, obs_space, ACT)


def random_batch(n: int = 20, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(rng.standard_normal((n, 3)).astype(np.float32),
                 rng.uniform(ACT.low, ACT.high, (n, 2)).astype(np.float32),
                 rng.standard_normal(n).astype(np.float32),
                 rng.standard_normal((n, 3)).astype(np.float32),
                 (rng.random(n) < 0.2).astype(np.float32))


def test_q_loss_falls_on_a_fixed_dataset():
    agent, batch = learner(), random_batch()
    losses = [agent.update(batch)["q_loss"] for _ in range(300)]
    assert np.mean(losses[-30:]) < 0.1 * np.mean(losses[:30])


@pytest.mark.parametrize("seed", [0, 1])
def test_greedy_action_is_the_best_logged_region(seed):
    # One state; one-step episodes paying 1 - |a - a*|^2 (in unit-box coordinates).
    rng = np.random.default_rng(seed)
    best = np.array([1.0, 0.7], np.float32)
    actions = rng.uniform(ACT.low, ACT.high, (64, 2)).astype(np.float32)
    rewards = (1.0 - (((actions - best) / HALF) ** 2).sum(1)).astype(np.float32)
    obs = np.zeros((64, 3), np.float32)
    agent = learner(seed, lr=3e-3)
    for _ in range(300):
        agent.update(Batch(obs, actions, rewards, obs, np.ones(64, np.float32)))
    greedy = np.stack([agent.act(obs[0], explore=False) for _ in range(5)])
    assert np.all(np.abs((greedy - best) / HALF) < 0.25)


def test_bootstrap_uses_gamma_and_stops_at_terminals():
    agent, batch = learner(gamma=0.5), random_batch()
    batch.rewards[:] = 0.0
    batch.terminals[:] = 1.0
    assert agent.update(batch)["target_mean"] == 0.0
    batch.terminals[:] = 0.0
    assert agent.update(batch)["target_mean"] != 0.0


def test_exploration_modes():
    obs = random_batch().obs
    uniform = learner(epsilon=1.0).act(np.repeat(obs[:1], 2000, axis=0))
    assert np.all(uniform >= ACT.low) and np.all(uniform <= ACT.high)
    assert np.allclose(uniform.mean(0), (ACT.low + ACT.high) / 2, atol=0.1)
    assert np.allclose(uniform.std(0), HALF / np.sqrt(3), atol=0.05)  # std of a uniform
    agent = learner(epsilon=0.0, noise_std=0.0)
    greedy_gen = learner(epsilon=0.0, noise_std=0.0)
    assert np.array_equal(agent.act(obs), greedy_gen.act(obs, explore=False))


def test_image_observations_train_the_cnn():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    batch = Batch(images, rng.uniform(ACT.low, ACT.high, (8, 2)).astype(np.float32),
                  rng.standard_normal(8).astype(np.float32), images[::-1].copy(), np.zeros(8, np.float32))
    agent = learner(obs_space=IMAGES, obs="image", cem={"n_samples": 16, "n_elites": 4})
    conv_before = agent.critic.encoder.net[0].weight.detach().clone()
    metrics = agent.update(batch)
    assert np.isfinite(metrics["q_loss"])
    assert not torch.equal(conv_before, agent.critic.encoder.net[0].weight)
    action = agent.act(images[0])
    assert action.shape == (2,) and np.all(action >= ACT.low) and np.all(action <= ACT.high)


def test_state_dict_round_trip_resumes_exactly():
    batch, other = random_batch(seed=0), random_batch(seed=1)
    agent = learner(0)
    for _ in range(5):
        agent.update(batch)
    agent.act(batch.obs)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = learner(9)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert np.array_equal(agent.act(batch.obs, explore=False), restored.act(batch.obs, explore=False))
    assert np.array_equal(agent.act(batch.obs), restored.act(batch.obs))
    assert agent.update(other) == restored.update(other)
    assert np.array_equal(agent.act(batch.obs), restored.act(batch.obs))


def test_acting_does_not_change_updates():
    # Acting (policy node) and updating (learner) draw from separate random streams.
    batch = random_batch()
    quiet, busy = learner(0), learner(0)
    busy.act(batch.obs)
    assert quiet.update(batch) == busy.update(batch)


@pytest.mark.parametrize("data, key", [
    ({"cem": {"n_sample": 8}}, "n_sample"),
    ({"cem": {"n_samples": 4, "n_elites": 6}}, "n_elites"),
    ({"cem": {"n_samples": 0}}, "n_samples"),
    ({"lr": -1.0}, "lr"),
    ({"epsilon": 1.5}, "epsilon"),
    ({"obs": "pixels"}, "obs"),
    ({"gama": 0.9}, "gama"),
])
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key):
        from_mapping(QTOptConfig, data, "learner")


def test_observation_kind_must_match_the_space():
    with pytest.raises(ConfigError, match="obs='image'"):
        learner(obs="image")
    with pytest.raises(ConfigError, match="obs='state'"):
        learner(obs_space=IMAGES)
