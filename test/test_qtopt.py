"""QT-Opt: Q regression converges, CEM acting finds the best action, images work, resume is exact;
the bounded (sigmoid) Q, the discrete close branch and the fixed observation standardisation."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner
from learner_helpers import ACT, OBS, assert_resumes_exactly, random_batch

HALF = (ACT.high - ACT.low) / 2
IMAGES = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)


def learner(seed: int = 0, obs_space: gym.Space = OBS, **overrides) -> QTOptLearner:
    """A small QT-Opt; unbounded Q by default, as most tests regress onto real-valued rewards."""
    config = from_mapping(QTOptConfig, {"hidden": [32, 32], "lr": 1e-3, "seed": seed, "q_output": "linear",
                                        **overrides}, "learner")
    return QTOptLearner(config, obs_space, ACT)


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
    agent = learner(obs_space=IMAGES, cem={"n_samples": 16, "n_elites": 4})
    conv_before = agent.critic.encoder.net[0].weight.detach().clone()
    metrics = agent.update(batch)
    assert np.isfinite(metrics["q_loss"])
    assert not torch.equal(conv_before, agent.critic.encoder.net[0].weight)
    action = agent.act(images[0])
    assert action.shape == (2,) and np.all(action >= ACT.low) and np.all(action <= ACT.high)


def test_state_dict_round_trip_resumes_exactly():
    assert_resumes_exactly(learner)


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


@pytest.mark.parametrize("space, message", [
    (gym.spaces.Box(0.0, 1.0, (64, 64, 3), np.float32), "must be a 1-D Box"),
    (gym.spaces.Box(-1.0, 1.0, (4, 4), np.float32), "must be a 1-D Box"),
    (gym.spaces.Dict({"proprio": gym.spaces.Box(-1, 1, (3,))}), "exactly one uint8"),
    (gym.spaces.Dict({"image": IMAGES, "depth": gym.spaces.Box(0, 1, (64, 64), np.float32)}), "'depth' is Box"),
])
def test_observation_spaces_without_an_encoder_are_named(space, message):
    with pytest.raises(ConfigError, match=message):
        learner(obs_space=space)


# ----- Dict observations (camera image + proprioception, as the grasping env gives) -----

CAMERA = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (40, 40, 3), np.uint8),
                          "proprio": gym.spaces.Box(-1.0, 1.0, (3,), np.float32)})


def dict_batch(signal: str, n: int = 8, seed: int = 0) -> Batch:
    """One-step episodes, one shared action: the reward is readable only from the ``signal`` entry."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 40, 40, 3), np.uint8)
    proprio = np.zeros((n, 3), np.float32)
    if signal == "image":
        images[:] = rng.integers(0, 256, (n, 1, 1, 3), dtype=np.uint8)  # flat colours
        rewards = images[:, 0, 0, 0] / 255.0 - images[:, 0, 0, 2] / 255.0
    else:
        proprio[:] = rng.uniform(-1, 1, (n, 3))
        rewards = proprio[:, 0] - 0.5 * proprio[:, 2]
    obs = {"image": images, "proprio": proprio}
    actions = np.repeat(rng.uniform(ACT.low, ACT.high, (1, 2)), n, axis=0).astype(np.float32)
    return Batch(obs, actions, rewards.astype(np.float32), obs, np.ones(n, np.float32))


@pytest.mark.parametrize("signal", ["image", "proprio"])
def test_dict_observations_learn_from_both_the_image_and_the_proprio_vector(signal):
    agent = learner(obs_space=CAMERA, cem={"n_samples": 16, "n_elites": 4})
    batch = dict_batch(signal)
    losses = [agent.update(batch)["q_loss"] for _ in range(150)]
    assert np.mean(losses[-10:]) < 0.1 * np.mean(losses[:10])


def test_dict_observations_act_singly_and_in_batches():
    agent = learner(obs_space=CAMERA, cem={"n_samples": 16, "n_elites": 4})
    obs = dict_batch("image").obs
    single = agent.act({k: v[0] for k, v in obs.items()}, explore=False)
    batch = agent.act(obs, explore=False)
    assert single.shape == (2,) and batch.shape == (8, 2)
    assert np.all(batch >= ACT.low) and np.all(batch <= ACT.high)
    with pytest.raises(ValueError, match=r"keys \['image', 'proprio'\]"):
        agent.act({"image": obs["image"][0]})


# ----- target search -------------------------------------------------------------------

def test_target_cem_defaults_to_the_acting_search_and_a_smaller_one_finds_lower_maxima():
    batch = random_batch()
    acting = {"n_samples": 64, "n_iters": 2, "n_elites": 6}
    default = learner().update(batch)
    assert learner(target_cem=acting).update(batch) == default
    tiny = learner(target_cem={"n_samples": 2, "n_iters": 1, "n_elites": 1}).update(batch)
    assert tiny["q_loss"] != default["q_loss"] and tiny["target_mean"] < default["target_mean"]


@pytest.mark.parametrize("data, key", [
    ({"target_cem": {"n_elites": 100}}, r"target_cem: n_elites"),
    ({"target_cem": {"samples": 8}}, r"target_cem: unknown key\(s\) 'samples'"),
    ({"target_cem": 8}, "target_cem must be a mapping or null"),
])
def test_bad_target_cem_is_named(data, key):
    with pytest.raises(ConfigError, match=key):
        from_mapping(QTOptConfig, data, "learner")


def test_no_grad_scoring_reuses_storage_yet_matches_autograd_scoring():
    # CEM scores without autograd into storage kept between calls; results must not alias it.
    q = learner().critic.q
    state_part = q.state_part(torch.randn(4, 3)).detach()
    first, second = torch.randn(4, 16, 2), torch.randn(4, 16, 2)
    with torch.inference_mode():  # acting
        scored_first = q.score(state_part, first)
    with torch.no_grad():  # target search, same shapes
        scored_second = q.score(state_part, second)
    assert torch.allclose(scored_first, q.score(state_part, first), atol=1e-6)
    assert torch.allclose(scored_second, q.score(state_part, second), atol=1e-6)


# ----- bounded Q -------------------------------------------------------------------------

def test_sigmoid_q_is_bounded_and_its_targets_are_clipped_to_the_unit_interval():
    batch = random_batch()
    batch.rewards[:] = 5.0  # an out-of-range reward must not lift the target above Q*'s bound
    batch.terminals[:] = 0.0
    agent = learner(q_output="sigmoid", gamma=0.9)
    metrics = agent.update(batch)
    assert metrics["target_mean"] == 1.0 and 0.0 < metrics["q_mean"] < 1.0
    linear = learner(gamma=0.9).update(batch)
    assert linear["target_mean"] > 1.0


def test_sigmoid_q_learns_success_probabilities():
    # One state, one-step episodes: actions with a[0] > 0 succeed (reward 1), others fail.
    rng = np.random.default_rng(0)
    actions = rng.uniform(ACT.low, ACT.high, (128, 2)).astype(np.float32)
    rewards = (actions[:, 0] > 0).astype(np.float32)
    obs = np.zeros((128, 3), np.float32)
    agent = learner(q_output="sigmoid", lr=3e-3)
    batch = Batch(obs, actions, rewards, obs, np.ones(128, np.float32))
    for _ in range(300):
        agent.update(batch)
    with torch.no_grad():
        q = agent.critic(torch.zeros(2, 3), torch.tensor([[0.8, 0.0], [-0.8, 0.0]])).sigmoid().mean(0)
    assert q[0] > 0.9 and q[1] < 0.1


# ----- the discrete close branch -------------------------------------------------------------

CLOSE = 1  # ACT's second entry ([0, 1]; > 0.5, i.e. > 0 in the unit box, closes)


def test_close_actions_are_canonical_in_updates_and_never_searched_by_cem():
    agent = learner(close_dim=CLOSE)
    unit = torch.tensor([[0.3, 0.2], [-0.7, 0.9], [0.5, -0.4]])
    np.testing.assert_allclose(agent.canonical(unit).numpy(), [[0.0, 1.0], [0.0, 1.0], [0.5, -0.4]])
    obs = random_batch(n=64).obs
    actions = agent.act(obs, explore=False)
    closes = actions[:, CLOSE] > 0.5
    # every greedy action is a move with the close entry at its bound, or exactly the canonical close
    assert np.all(actions[~closes, CLOSE] == ACT.low[CLOSE])
    np.testing.assert_array_equal(actions[closes], np.tile([0.0, 1.0], (closes.sum(), 1)))


def test_close_branch_picks_the_canonical_close_when_closing_pays():
    # Closes (whatever their other entry) pay 1, moves pay 0: the greedy action is the canonical close.
    rng = np.random.default_rng(1)
    actions = rng.uniform(ACT.low, ACT.high, (128, 2)).astype(np.float32)
    rewards = (actions[:, CLOSE] > 0.5).astype(np.float32)
    obs = np.zeros((128, 3), np.float32)
    agent = learner(q_output="sigmoid", close_dim=CLOSE, lr=3e-3)
    for _ in range(200):
        agent.update(Batch(obs, actions, rewards, obs, np.ones(128, np.float32)))
    np.testing.assert_array_equal(agent.act(obs[0], explore=False), [0.0, 1.0])


def test_close_dim_outside_the_action_is_named():
    with pytest.raises(ConfigError, match="close_dim 2"):
        learner(close_dim=2)


# ----- observation standardisation ----------------------------------------------------------

def test_observations_are_standardised_with_statistics_fitted_once_and_saved():
    rng = np.random.default_rng(0)
    agent = learner()
    data = rng.normal([0.5, -2.0, 0.0], [0.02, 3.0, 1e-6], (500, 3)).astype(np.float32)
    agent.fit_observations(data, rng)
    z = agent.critic.encoder(torch.as_tensor(data)).numpy()
    np.testing.assert_allclose(z[:, :2].mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z[:, :2].std(0), 1.0, atol=1e-3)
    assert np.abs(z[:, 2]).max() < 1e-3  # a constant feature is centred, not divided by ~0
    assert torch.equal(agent.critic_target.encoder.inv_std, agent.critic.encoder.inv_std)
    agent.fit_observations(data * 10, rng)  # fixed: a second fit changes nothing
    np.testing.assert_array_equal(agent.critic.encoder(torch.as_tensor(data)).numpy(), z)
    restored = learner(3)
    restored.load_state_dict(agent.state_dict())
    assert restored.obs_fitted
    np.testing.assert_array_equal(restored.critic.encoder(torch.as_tensor(data)).numpy(), z)


def test_given_statistics_win_and_standardisation_can_be_switched_off():
    given = learner(obs_mean=[1.0, 2.0, 3.0], obs_std=[2.0, 2.0, 2.0])
    given.fit_observations(np.zeros((10, 3), np.float32), np.random.default_rng(0))
    np.testing.assert_allclose(given.critic.encoder(torch.tensor([[3.0, 2.0, 1.0]])).numpy(), [[1.0, 0.0, -1.0]])
    raw = learner(standardize_obs=False)
    raw.fit_observations(np.full((10, 3), 7.0, np.float32), np.random.default_rng(0))
    np.testing.assert_array_equal(raw.critic.encoder(torch.tensor([[3.0, 2.0, 1.0]])).numpy(), [[3.0, 2.0, 1.0]])
