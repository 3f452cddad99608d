"""Tabular Q-learning: learns a combination chain, breaks greedy ties at random, resumes exactly."""
import io

import numpy as np
import pytest
import torch

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.learners.tabular_q import TabularQConfig, TabularQLearner

COMBINATION = (2, 0, 1)  # the one right action at steps 0, 1, 2
END = len(COMBINATION)  # absorbing state after the episode ends (never bootstrapped)


def learner(seed: int = 0, **overrides) -> TabularQLearner:
    return TabularQLearner(TabularQConfig(n_states=END + 1, n_actions=3, seed=seed, **overrides))


def chain_step(state: int, action: int) -> tuple[int, float, bool]:
    """Right action: next step (reward 1 after the last); wrong action: the episode ends, reward 0."""
    if action != COMBINATION[state]:
        return END, 0.0, True
    return (END, 1.0, True) if state + 1 == END else (state + 1, 0.0, False)


def greedy_return(agent: TabularQLearner) -> float:
    state, total, done = 0, 0.0, False
    while not done:
        state, reward, done = chain_step(state, agent.act(state, explore=False))
        total += reward
    return total


def test_learns_a_three_step_chain_online():
    agent = learner(epsilon=0.5)
    for _ in range(300):
        state, done = 0, False
        while not done:
            action = agent.act(state)
            next_state, reward, done = chain_step(state, action)
            agent.update_transition(state, action, reward, next_state, done)
            state = next_state
    assert greedy_return(agent) == 1.0
    assert agent.q[0, COMBINATION[0]] == pytest.approx(0.99 ** 2, abs=0.02)


def test_greedy_ties_are_broken_uniformly():
    agent = learner()
    picks = np.bincount([agent.act(0, explore=False) for _ in range(600)], minlength=3)
    assert np.all(picks > 150)


def test_greedy_picks_the_unique_best_and_epsilon_explores():
    agent = learner(epsilon=1.0)
    agent.q[1] = [0.0, 0.0, 1.0]
    assert {agent.act(1, explore=False) for _ in range(50)} == {2}
    assert {agent.act(1) for _ in range(100)} == {0, 1, 2}


def test_batch_update_equals_transitions_in_order():
    batch = Batch(np.array([0, 1, 2, 0]), np.array([2, 0, 1, 1]), np.array([0.0, 0.0, 1.0, 0.0]),
                  np.array([1, 2, 3, 3]), np.array([0.0, 0.0, 1.0, 1.0]))
    by_batch, by_step = learner(), learner()
    metrics = by_batch.update(batch)
    for i in range(len(batch)):
        by_step.update_transition(batch.obs[i], batch.actions[i], batch.rewards[i], batch.next_obs[i],
                                  bool(batch.terminals[i]))
    assert np.array_equal(by_batch.q, by_step.q)
    assert metrics["td_abs"] == pytest.approx(0.25)  # only the rewarding transition had a TD error (1)


def test_terminal_transitions_do_not_bootstrap():
    agent = learner(lr=1.0, gamma=0.9)
    agent.q[3] = 10.0
    agent.update_transition(0, 1, 0.5, 3, terminal=True)
    agent.update_transition(1, 1, 0.5, 3, terminal=False)
    assert agent.q[0, 1] == 0.5 and agent.q[1, 1] == pytest.approx(9.5)


def test_state_dict_round_trip_resumes_exactly():
    agent = learner(3)
    agent.update_transition(0, 2, 1.0, 1, False)
    [agent.act(0) for _ in range(7)]
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = learner(4)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert np.array_equal(agent.q, restored.q)
    assert [agent.act(s % 4) for s in range(50)] == [restored.act(s % 4) for s in range(50)]
    greedy = [[a.act(1, explore=False) for _ in range(20)] for a in (agent, restored)]
    assert greedy[0] == greedy[1]


def test_state_out_of_range_is_refused():
    with pytest.raises(ValueError, match="state 7"):
        learner().act(7)


@pytest.mark.parametrize("data, key", [
    ({"n_states": 4, "n_actions": 2, "alpha": 0.1}, "alpha"),
    ({"n_states": 4, "n_actions": 2, "lr": -0.5}, "lr"),
    ({"n_states": 0, "n_actions": 2}, "n_states"),
    ({"n_states": 4, "n_actions": 2, "epsilon": 2.0}, "epsilon"),
    ({"n_states": 4}, "n_actions"),
])
def test_bad_config_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key):
        from_mapping(TabularQConfig, data, "learner")
