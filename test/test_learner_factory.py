"""make_learner: builds each learner by name; names, keys and spaces that do not fit fail clearly."""
import gymnasium as gym
import numpy as np
import pytest

from jsrl_learning.config import ConfigError
from jsrl_learning.learners import IQLLearner, QTOptLearner, TabularQLearner, make_learner

BOX_OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
BOX_ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
SMALL = {"hidden": [8]}


@pytest.mark.parametrize("name, cls, config, obs_space, act_space", [
    ("iql", IQLLearner, SMALL, BOX_OBS, BOX_ACT),
    ("qtopt", QTOptLearner, SMALL, BOX_OBS, BOX_ACT),
    ("tabular_q", TabularQLearner, None, gym.spaces.Discrete(5), gym.spaces.Discrete(3)),
])
def test_builds_each_learner_and_it_acts(name, cls, config, obs_space, act_space):
    agent = make_learner(name, config, obs_space, act_space, "scenario.yaml: learner")
    assert isinstance(agent, cls)
    assert act_space.contains(np.asarray(agent.act(obs_space.sample(), explore=False), act_space.dtype))


def test_config_values_reach_the_learner():
    agent = make_learner("qtopt", {"gamma": 0.8, "cem": {"n_samples": 10, "n_elites": 2}},
                         BOX_OBS, BOX_ACT, "learner")
    assert agent.config.gamma == 0.8 and agent.config.cem.n_samples == 10


def test_tabular_sizes_come_from_the_spaces():
    agent = make_learner("tabular_q", {"epsilon": 0.3}, gym.spaces.Discrete(6), gym.spaces.Discrete(2),
                         "learner")
    assert agent.q.shape == (6, 2) and agent.config.epsilon == 0.3


def test_unknown_learner_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"learner: unknown learner 'sac'.*iql, qtopt, tabular_q"):
        make_learner("sac", None, BOX_OBS, BOX_ACT, "learner")


@pytest.mark.parametrize("name", ["iql", "qtopt"])
def test_unknown_key_is_named_with_its_section(name):
    with pytest.raises(ConfigError, match=r"grasp.yaml: learner: unknown key\(s\) 'temprature'"):
        make_learner(name, {"temprature": 3.0}, BOX_OBS, BOX_ACT, "grasp.yaml: learner")


def test_tabular_sizes_that_disagree_with_the_spaces_fail():
    with pytest.raises(ConfigError, match="n_states=4 but the space has 6"):
        make_learner("tabular_q", {"n_states": 4}, gym.spaces.Discrete(6), gym.spaces.Discrete(2), "learner")


def test_tabular_needs_discrete_spaces():
    with pytest.raises(ConfigError, match="Discrete"):
        make_learner("tabular_q", None, BOX_OBS, gym.spaces.Discrete(2), "learner")
