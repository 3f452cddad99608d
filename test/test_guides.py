"""Guides: scripted, human (stale commands), behaviour cloning, learner checkpoints, make_guide."""
import dataclasses
import threading

import gymnasium as gym
import numpy as np
import pytest
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.checkpoint import CheckpointError, save_checkpoint
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.envs import CombinationLockEnv, NoisyLockGuide
from jsrl_learning.guides import (
    BCConfig, BCGuide, Guide, GuideSpec, HumanGuide, LatestCommand, PolicyCheckpointGuide, ScriptedGuide,
    make_guide,
)
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.learners import make_learner


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def test_every_guide_satisfies_the_guide_protocol():
    assert isinstance(ScriptedGuide(lambda o: 0), Guide)
    assert isinstance(HumanGuide(LatestCommand(), 0.1, [0.0]), Guide)


def test_scripted_guide_calls_the_function_and_its_reset():
    resets = []
    guide = ScriptedGuide(lambda obs: obs * 2, reset_fn=lambda: resets.append(True))
    guide.reset()
    assert guide.act(3) == 6 and resets == [True]
    with pytest.raises(TypeError, match="callable"):
        ScriptedGuide(42)


# ----- human ---------------------------------------------------------------------------

def make_human(timeout_s=0.5):
    clock = FakeClock(100.0)
    source = LatestCommand(clock=clock)
    return HumanGuide(source, timeout_s, idle_action=np.zeros(2), clock=clock), source, clock


def test_human_guide_idles_until_a_command_arrives():
    guide, _, _ = make_human()
    assert guide.act(None).tolist() == [0.0, 0.0]
    assert not guide.last_command_fresh


def test_human_guide_uses_a_fresh_command_and_only_the_latest():
    guide, source, clock = make_human()
    source.put([1.0, 0.0])
    source.put([0.0, -1.0])
    clock.now += 0.5  # exactly at the timeout is still fresh
    assert guide.act(None).tolist() == [0.0, -1.0]
    assert guide.last_command_fresh


def test_human_guide_never_replays_a_stale_command():
    guide, source, clock = make_human(timeout_s=0.5)
    source.put([1.0, 1.0])
    clock.now += 0.51
    assert guide.act(None).tolist() == [0.0, 0.0]
    assert not guide.last_command_fresh
    source.put([0.5, 0.5], stamp=clock.now - 2.0)  # arrives late, stamped long ago
    assert guide.act(None).tolist() == [0.0, 0.0]
    source.put([0.5, 0.5])
    assert guide.act(None).tolist() == [0.5, 0.5]


def test_human_guide_reset_forgets_the_previous_episodes_command():
    guide, source, _ = make_human()
    source.put([1.0, 1.0])
    guide.reset()
    assert guide.act(None).tolist() == [0.0, 0.0]


def test_human_guide_returns_copies_so_callers_cannot_corrupt_the_command():
    guide, source, _ = make_human()
    source.put([1.0, 1.0])
    guide.act(None)[0] = 99.0
    guide.act(None)[0] = 99.0
    assert guide.act(None).tolist() == [1.0, 1.0]
    assert make_human()[0].act(None).tolist() == [0.0, 0.0]


def test_latest_command_is_thread_safe_and_keeps_the_last_put():
    source = LatestCommand(clock=FakeClock())
    threads = [threading.Thread(target=lambda k=k: [source.put([k, i], stamp=i) for i in range(200)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    action, stamp = source.latest()
    assert stamp == 199 and action[1] == 199  # a whole command, never half of two


def test_human_guide_rejects_a_non_positive_timeout():
    with pytest.raises(ValueError, match="timeout_s"):
        HumanGuide(LatestCommand(), 0.0, [0.0])


# ----- behaviour cloning ---------------------------------------------------------------

BOX = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 4.0], np.float32))
SMALL_BC = BCConfig(hidden=[64, 64], lr=3e-3, n_updates=800, batch_size=128, seed=0)


def continuous_demos(n, seed):
    obs = np.random.default_rng(seed).uniform(-1, 1, size=(n, 3)).astype(np.float32)
    actions = np.stack([0.8 * obs[:, 0] - 0.5 * obs[:, 1], 2.0 + 1.5 * obs[:, 2]], axis=1)
    return obs, actions.astype(np.float32)


def batch_of(obs, actions):
    n = len(actions)
    return Batch(obs, actions, np.zeros(n, np.float32), obs, np.zeros(n, np.float32))


def test_bc_clones_continuous_demos_within_the_action_bounds():
    guide = BCGuide.train(batch_of(*continuous_demos(2000, seed=0)), SMALL_BC, BOX)
    obs, actions = continuous_demos(200, seed=1)
    predicted = np.stack([guide.act(o) for o in obs])
    assert predicted.shape == actions.shape
    assert np.all(predicted >= BOX.low) and np.all(predicted <= BOX.high)
    assert np.mean((predicted - actions) ** 2) < 0.01
    assert np.mean(guide.losses[-50:]) < 0.05 * np.mean(guide.losses[:10])


def test_bc_clones_discrete_demos_with_cross_entropy():
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, size=(2000, 2)).astype(np.float32)
    space = gym.spaces.Discrete(4, start=1)
    labels = 1 + (obs[:, 0] > obs[:, 1]) + 2 * (obs[:, 0] > 0)
    guide = BCGuide.train(batch_of(obs, labels), SMALL_BC, space)
    test_obs = rng.uniform(-1, 1, size=(300, 2)).astype(np.float32)
    test_labels = 1 + (test_obs[:, 0] > test_obs[:, 1]) + 2 * (test_obs[:, 0] > 0)
    predicted = np.array([guide.act(o) for o in test_obs])
    assert set(predicted) <= {1, 2, 3, 4}
    assert np.mean(predicted == test_labels) > 0.95


def assert_save_load_gives_identical_actions(guide: BCGuide, observations: list, path) -> BCGuide:
    guide.save(path)
    loaded = BCGuide.load(path)
    assert all(np.array_equal(guide.act(o), loaded.act(o)) for o in observations)
    assert loaded.losses == guide.losses and loaded.config == guide.config
    return loaded


def test_bc_save_load_gives_identical_actions(tmp_path):
    config = BCConfig(hidden=[16], n_updates=20, batch_size=32)
    guide = BCGuide.train(batch_of(*continuous_demos(100, seed=0)), config, BOX)
    assert_save_load_gives_identical_actions(guide, list(continuous_demos(20, seed=2)[0]), tmp_path / "bc.pt")


def test_bc_refuses_an_empty_dataset_and_bad_config():
    space = gym.spaces.Discrete(2)
    with pytest.raises(ValueError, match="empty"):
        BCGuide.train(batch_of(np.zeros((0, 2), np.float32), np.zeros(0)), SMALL_BC, space)
    with pytest.raises(ConfigError, match="lr"):
        from_mapping(BCConfig, {"lr": 0}, "bc")


IMAGE_ACT = gym.spaces.Box(np.array([-1.0, -1.0, 0.0], np.float32), np.array([1.0, 1.0, 2.0], np.float32))


def square_demos(n, seed, size=40, side=6):
    """A red square at a random place on black; the demonstrator reaches for it (actions 0, 1) and
    sets the third action from the proprio vector, so both the CNN and the vector path must work."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, size - side + 1, size=(n, 2))
    images = np.zeros((n, size, size, 3), np.uint8)
    for image, (row, col) in zip(images, corners):
        image[row:row + side, col:col + side, 0] = 255
    proprio = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    centre = (corners + side / 2) / size * 2 - 1  # [-1, 1] image coordinates, (row, col)
    actions = np.stack([centre[:, 1], centre[:, 0], 1.0 + 0.8 * proprio[:, 1]], axis=1).astype(np.float32)
    return {"image": images, "proprio": proprio}, actions


IMAGE_BC = BCConfig(hidden=[64], lr=2e-3, n_updates=200, batch_size=64, seed=0)


def test_bc_on_images_learns_where_the_square_is_within_the_action_bounds():
    demos = batch_of(*square_demos(600, seed=0))
    guide = BCGuide.train(demos, IMAGE_BC, IMAGE_ACT)
    obs, actions = square_demos(100, seed=1)
    predicted = np.stack([guide.act({k: v[i] for k, v in obs.items()}) for i in range(100)])
    assert np.all(predicted >= IMAGE_ACT.low) and np.all(predicted <= IMAGE_ACT.high)
    errors = np.mean((predicted - actions) ** 2, axis=0)
    assert np.all(errors < 0.05 * actions.var(axis=0)), errors  # far better than predicting the mean
    untrained = BCGuide.train(demos, dataclasses.replace(IMAGE_BC, n_updates=0), IMAGE_ACT)
    assert not torch.equal(guide.encoder.image.net[0].weight, untrained.encoder.image.net[0].weight)


def test_bc_on_images_save_load_gives_identical_actions(tmp_path):
    config = BCConfig(hidden=[16], n_updates=5, batch_size=8)
    guide = BCGuide.train(batch_of(*square_demos(20, seed=0)), config, IMAGE_ACT)
    obs, _ = square_demos(5, seed=3)
    loaded = assert_save_load_gives_identical_actions(guide, [{k: v[i] for k, v in obs.items()} for i in range(5)],
                                                      tmp_path / "bc.pt")
    assert loaded.observation_space == guide.observation_space
    assert loaded.observation_space["image"].dtype == np.uint8


# ----- learner checkpoints -------------------------------------------------------------

def greedy_tabular_learner(best_actions):
    """A tabular learner taught that ``best_actions[s]`` is the only rewarded action in state s."""
    spaces = gym.spaces.Discrete(len(best_actions)), gym.spaces.Discrete(3)
    learner = make_learner("tabular_q", {"seed": 0}, *spaces, "test")
    s = np.arange(len(best_actions))
    learner.update(Batch(s, np.asarray(best_actions), np.ones(len(s), np.float32), s,
                         np.ones(len(s), np.float32)))
    return learner, spaces


def test_policy_checkpoint_guide_acts_greedily_with_the_saved_learner(tmp_path):
    learner, (obs_space, act_space) = greedy_tabular_learner([2, 0, 1, 1])
    save_checkpoint(tmp_path / "policy.pt",
                    {"policy": policy_state("tabular_q", {"seed": 0}, obs_space, act_space, learner)})
    guide = PolicyCheckpointGuide.load(tmp_path / "policy.pt")
    guide.reset()
    assert [guide.act(s) for s in range(4)] == [2, 0, 1, 1]
    assert type(guide.learner) is type(learner) and guide.learner_name == "tabular_q"


def test_policy_checkpoint_guide_refuses_a_file_without_a_policy(tmp_path):
    save_checkpoint(tmp_path / "other.pt", {"something": 1})
    with pytest.raises(CheckpointError, match=r"other.pt: holds no 'policy' entry"):
        PolicyCheckpointGuide.load(tmp_path / "other.pt")


# ----- make_guide ----------------------------------------------------------------------

def lock_env():
    return CombinationLockEnv(horizon=4, n_actions=3, combination=[2, 0, 1, 1])


def test_make_guide_scripted_calls_the_factory_with_the_env():
    spec = from_mapping(GuideSpec, {"kind": "scripted", "target": "jsrl_learning.envs:make_lock_guide",
                                    "kwargs": {"p": 1.0, "seed": 0}}, "guide")
    guide = make_guide(spec, lock_env())
    assert isinstance(guide, NoisyLockGuide)
    assert [guide.act(s) for s in range(4)] == [2, 0, 1, 1]


def test_make_guide_wraps_a_plain_callable_in_a_scripted_guide():
    spec = GuideSpec(kind="scripted", target="test_guides:make_always_one")
    guide = make_guide(spec, lock_env())
    assert isinstance(guide, ScriptedGuide) and guide.act(0) == 1


def make_always_one(env):
    return lambda obs: 1


def test_make_guide_names_an_unimportable_target():
    with pytest.raises(ConfigError, match=r"guide: target 'no_such_module:f' cannot be imported"):
        make_guide(GuideSpec(kind="scripted", target="no_such_module:f"), lock_env())


def test_make_guide_loads_a_policy_checkpoint_and_a_bc_guide(tmp_path):
    learner, (obs_space, act_space) = greedy_tabular_learner([2, 0, 1, 1, 0, 0])
    save_checkpoint(tmp_path / "p.pt", {"policy": policy_state("tabular_q", {}, obs_space, act_space, learner)})
    guide = make_guide(GuideSpec(kind="policy_checkpoint", path=str(tmp_path / "p.pt")), lock_env())
    assert [guide.act(s) for s in range(4)] == [2, 0, 1, 1]

    BCGuide.train(batch_of(*continuous_demos(50, 0)), BCConfig(hidden=[8], n_updates=2), BOX).save(tmp_path / "b.pt")
    assert isinstance(make_guide(GuideSpec(kind="bc", path=str(tmp_path / "b.pt")), lock_env()), BCGuide)


def test_make_guide_human_idles_with_zeros_of_the_action_shape():
    env = gym.make("Pendulum-v1")
    guide = make_guide(GuideSpec(kind="human", timeout_s=0.2), env)
    assert isinstance(guide, HumanGuide) and guide.act(None).tolist() == [0.0]
    with pytest.raises(ConfigError, match="idle_action has shape"):
        make_guide(GuideSpec(kind="human", idle_action=[0.0, 0.0]), env)


@pytest.mark.parametrize("data, message", [
    ({"kind": "telepathy"}, "kind must be one of"),
    ({"kind": "bc"}, "exactly one of path"),
    ({"kind": "bc", "path": "/nonexistent/bc.pt"}, "path: file not found: /nonexistent/bc.pt"),
    ({"kind": "bc", "dataset": "/nonexistent/demos.npz"}, "dataset: dataset file not found: /nonexistent/demos.npz"),
    ({"kind": "policy_checkpoint"}, "needs path"),
    ({"kind": "scripted", "target": "no_colon"}, "target must be"),
    ({"kind": "scripted", "targte": "a:b"}, "unknown key.*'targte'"),
])
def test_bad_guide_specs_are_named(data, message):
    with pytest.raises(ConfigError, match=message):
        from_mapping(GuideSpec, data, "run.yaml: guide")


def test_external_guide_kind_cannot_be_built_from_config():
    with pytest.raises(ConfigError, match="external"):
        make_guide(GuideSpec(), lock_env())
