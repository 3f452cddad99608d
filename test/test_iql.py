"""IQL: losses fall, V is the expectile, the actor prefers high-advantage actions, resume is exact."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.iql import IQLConfig, IQLLearner
from learner_helpers import ACT, OBS, assert_resumes_exactly, random_batch


def learner(seed: int = 0, **overrides) -> IQLLearner:
    return IQLLearner(IQLConfig(hidden=(32, 32), lr=1e-3, seed=seed, **overrides), OBS, ACT)


def bandit() -> Batch:
    """One state, two logged actions: the first pays 1, the second 0; both end the episode."""
    obs = np.zeros((2, 3), np.float32)
    return Batch(obs, np.array([[1.0, 0.75], [-1.0, 0.25]], np.float32),
                 np.array([1.0, 0.0], np.float32), obs, np.ones(2, np.float32))


def test_q_loss_falls_on_a_fixed_dataset():
    agent, batch = learner(), random_batch()
    metrics = [agent.update(batch) for _ in range(300)]
    assert {"q_loss", "v_loss", "actor_loss"} <= set(metrics[0])
    first = np.mean([m["q_loss"] for m in metrics[:30]])
    last = np.mean([m["q_loss"] for m in metrics[-30:]])
    assert last < 0.1 * first


@pytest.mark.parametrize("expectile, expected_v", [(0.5, 0.5), (0.9, 0.9)])
def test_value_is_the_expectile_of_q_over_dataset_actions(expectile, expected_v):
    # Q -> (1, 0) on the two logged actions; their tau-expectile is tau.
    agent, batch = learner(expectile=expectile), bandit()
    for _ in range(1000):
        metrics = agent.update(batch)
    assert metrics["v_mean"] == pytest.approx(expected_v, abs=0.03)


def test_actor_imitates_the_better_logged_action():
    agent, batch = learner(), bandit()
    for _ in range(400):
        agent.update(batch)
    assert np.allclose(agent.act(batch.obs[0], explore=False), [1.0, 0.75], atol=0.05)


def test_actions_are_in_bounds_and_exploration_samples():
    agent, obs = learner(), random_batch().obs
    greedy = agent.act(obs, explore=False)
    assert greedy.shape == (20, 2) and agent.act(obs[0], explore=False).shape == (2,)
    assert np.array_equal(greedy, agent.act(obs, explore=False))
    explored = np.stack([agent.act(obs) for _ in range(20)])
    assert np.all(explored >= ACT.low) and np.all(explored <= ACT.high)
    assert explored.std(axis=0).min() > 0.1  # initial std is 1 in the unit box


def test_same_seed_same_learner_and_different_seed_differs():
    batch = random_batch()
    a, b, c = learner(0), learner(0), learner(1)
    assert a.update(batch) == b.update(batch) != c.update(batch)


def test_state_dict_round_trip_resumes_exactly():
    assert_resumes_exactly(learner)


def test_state_dict_is_a_snapshot():
    agent, batch = learner(), random_batch()
    state = agent.state_dict()
    agent.update(batch)
    fresh = learner(3)
    fresh.load_state_dict(state)
    assert np.array_equal(fresh.act(batch.obs, explore=False), learner(0).act(batch.obs, explore=False))


@pytest.mark.parametrize("data, key", [
    ({"learning_rate": 1e-3}, "learning_rate"),
    ({"lr": -1.0}, "lr"),
    ({"expectile": 1.0}, "expectile"),
    ({"hidden": []}, "hidden"),
    ({"tau": 0.0}, "tau"),
])
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key):
        from_mapping(IQLConfig, data, "learner")


def test_unbounded_or_discrete_action_space_is_refused():
    with pytest.raises(ValueError, match="bounds"):
        IQLLearner(IQLConfig(), OBS, gym.spaces.Box(-np.inf, np.inf, (2,), np.float32))
    with pytest.raises(ConfigError, match="action space"):
        IQLLearner(IQLConfig(), OBS, gym.spaces.Discrete(3))


def test_torch_adam_checkpoint_loads_into_the_flat_optimiser():
    # Checkpoints of the earlier learner hold one torch.optim.Adam over the actor's, V's and the critics' parameters.
    agent, batch = learner(), random_batch()
    params = [*agent.actor.parameters(), *agent.value.parameters(), *agent.critic.parameters()]
    adam = torch.optim.Adam(params, lr=1e-2)
    for i, p in enumerate(params):
        p.grad = torch.full_like(p, 0.1 * (i + 1))  # a different moment per parameter: the order is checked
    adam.step()
    state = agent.state_dict()
    state["optimizer"] = adam.state_dict()
    restored = learner(3)
    restored.load_state_dict(state)
    for name in ("actor", "value", "critic"):
        for key in ("exp_avg", "exp_avg_sq"):
            expected = torch.cat([adam.state[p][key].reshape(-1) for p in getattr(agent, name).parameters()])
            assert torch.equal(restored.update_rule.adam[name][key], expected), (name, key)
        assert restored.update_rule.adam[name]["step"].item() == 1.0
    assert np.isfinite(restored.update(batch)["q_loss"])
