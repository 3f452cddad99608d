"""Guide-then-explorer rollouts, H1 estimation and evaluation."""
import gymnasium as gym
import numpy as np
import pytest

from jsrl_learning.config import ConfigError

from jsrl_learning.guides.scripted import ScriptedGuide
from jsrl_learning.rollout import estimate_h1, evaluate, run_episode

RIGHT, STAY = 1, 0


class Corridor(gym.Env):
    """Walk right from cell 0 to cell ``length``; reaching it ends the episode with reward 1.

    ``success_key`` picks how success is reported in ``info`` (None: not at all).
    """

    def __init__(self, length=3, success_key="success"):
        self.length, self.success_key = length, success_key
        self.observation_space = gym.spaces.Discrete(length + 1)
        self.action_space = gym.spaces.Discrete(2)
        self.reset_seeds = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.reset_seeds.append(seed)
        self.pos = 0
        return self.pos, self._info(False)

    def step(self, action):
        self.pos += int(action == RIGHT)
        done = self.pos == self.length
        return self.pos, float(done), done, False, self._info(done)

    def _info(self, success):
        return {} if self.success_key is None else {self.success_key: success}


def constant(action):
    return lambda obs: action


class WaitingGuide:
    """Episode i: stay ``waits[i]`` steps, then walk right (succeeds after waits[i] + length steps)."""

    def __init__(self, waits):
        self.waits, self.episode, self.t = list(waits), -1, 0

    def reset(self):
        self.episode += 1
        self.t = 0

    def act(self, obs):
        self.t += 1
        return STAY if self.t <= self.waits[self.episode] else RIGHT


@pytest.mark.parametrize("h", [0, 1, 4, 7])
def test_guide_acts_for_exactly_the_first_h_steps(h):
    env = Corridor(length=10)  # guide and explorer both STAY, with distinguishable action values
    guide = ScriptedGuide(lambda obs: np.array(7))
    episode = run_episode(env, guide, lambda obs: np.array(STAY), guide_steps=h, max_steps=8)
    assert episode.length == 8
    assert episode.controller == ["guide"] * min(h, 8) + ["explorer"] * (8 - min(h, 8))
    assert episode.actions.tolist() == [7] * min(h, 8) + [STAY] * (8 - min(h, 8))
    assert episode.guide_steps == h


def test_guide_steps_beyond_the_episode_leave_the_whole_episode_to_the_guide():
    episode = run_episode(Corridor(length=3), ScriptedGuide(constant(RIGHT)), constant(STAY), guide_steps=50)
    assert episode.controller == ["guide"] * 3
    assert episode.success and episode.terminated.tolist() == [False, False, True]


def test_switch_mid_episode_hands_over_the_state_reached_by_the_guide():
    episode = run_episode(Corridor(length=5), ScriptedGuide(constant(RIGHT)), constant(STAY),
                          guide_steps=2, max_steps=4)
    assert episode.obs.tolist() == [0, 1, 2, 2]
    assert episode.next_obs.tolist() == [1, 2, 2, 2]
    assert not episode.success


def test_episode_records_transitions_and_batch_terminals_exclude_truncation():
    success = run_episode(Corridor(length=2), ScriptedGuide(constant(RIGHT)), constant(STAY), 5)
    batch = success.to_batch()
    assert batch.obs.tolist() == [0, 1] and batch.next_obs.tolist() == [1, 2]
    assert batch.rewards.tolist() == [0.0, 1.0] and batch.terminals.tolist() == [0.0, 1.0]
    assert success.total_return == 1.0

    timeout = run_episode(Corridor(length=9), ScriptedGuide(constant(STAY)), constant(STAY), 0, max_steps=3)
    assert timeout.truncated.tolist() == [False, False, True]
    assert timeout.terminated.tolist() == [False, False, False]
    assert timeout.to_batch().terminals.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("key", ["success", "is_success", None])
def test_success_comes_from_info_or_else_positive_return(key):
    env = Corridor(length=2, success_key=key)
    assert run_episode(env, ScriptedGuide(constant(RIGHT)), constant(STAY), 9).success
    assert not run_episode(env, ScriptedGuide(constant(STAY)), constant(STAY), 9, max_steps=4).success


def test_reset_is_called_once_per_episode_and_seed_reaches_the_env():
    env = Corridor(length=2)
    resets = []
    guide = ScriptedGuide(constant(RIGHT), reset_fn=lambda: resets.append(1))
    run_episode(env, guide, constant(STAY), 9, seed=11)
    run_episode(env, guide, constant(STAY), 9, seed=12)
    assert len(resets) == 2 and env.reset_seeds == [11, 12]


def test_h1_of_a_perfect_guide_is_its_steps_to_success():
    est = estimate_h1(Corridor(length=6), ScriptedGuide(constant(RIGHT)), n_rollouts=5, max_steps=20, seed=0)
    assert est.mean_steps_to_success == 6.0 and est.success_rate == 1.0 and est.n == 5


def test_h1_averages_over_successful_rollouts_only():
    guide = WaitingGuide(waits=[0, 2, 9, 4])  # lengths 3, 5, (fails at the 8-step limit), 7
    est = estimate_h1(Corridor(length=3), guide, n_rollouts=4, max_steps=8, seed=0)
    assert est.mean_steps_to_success == pytest.approx(5.0)
    assert est.success_rate == 0.75


def test_h1_without_any_success_is_a_clear_error():
    with pytest.raises(ConfigError, match="succeeded in none of 3 rollouts.*curriculum.h1"):
        estimate_h1(Corridor(length=3), ScriptedGuide(constant(STAY)), n_rollouts=3, max_steps=5)


def test_evaluate_combined_policy_and_explorer_alone():
    env, guide = Corridor(length=3), ScriptedGuide(constant(RIGHT))
    lazy_explorer = constant(STAY)
    combined = evaluate(env, guide, lazy_explorer, guide_steps=3, n_episodes=4, seed=0, max_steps=10)
    alone = evaluate(env, guide, lazy_explorer, guide_steps=0, n_episodes=4, seed=0, max_steps=10)
    assert (combined.success_rate, combined.mean_return, combined.mean_length) == (1.0, 1.0, 3.0)
    assert (alone.success_rate, alone.mean_return, alone.mean_length) == (0.0, 0.0, 10.0)
    assert env.reset_seeds[-4:] == [0, 1, 2, 3]


def test_bad_arguments_are_refused():
    env, guide = Corridor(), ScriptedGuide(constant(RIGHT))
    with pytest.raises(ValueError, match="guide_steps"):
        run_episode(env, guide, constant(STAY), -1)
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate(env, guide, constant(STAY), 0, n_episodes=0)
