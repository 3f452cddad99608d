"""The combination lock behaves as the MDP of Theorem 4.1, and its guide errs as documented."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jsrl_learning.envs import COMBINATION_LOCK_ID, CombinationLockEnv, make_lock_guide


def rollout(env: CombinationLockEnv, actions: list[int]) -> list[tuple]:
    obs, _ = env.reset()
    out = [obs]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, info["success"]))
        if term or trunc:
            break
    return out


def test_passes_gymnasium_env_checker() -> None:
    check_env(CombinationLockEnv(horizon=5, n_actions=3, seed=0), skip_render_check=True)


def test_registered_id_builds_the_env() -> None:
    env = gym.make(COMBINATION_LOCK_ID, horizon=4, n_actions=2, combination=[1, 0, 1, 1])
    assert isinstance(env.unwrapped, CombinationLockEnv)
    assert env.unwrapped.combination.tolist() == [1, 0, 1, 1]


def test_combination_fixed_by_construction_seed_not_by_reset_seed() -> None:
    a, b = CombinationLockEnv(12, 4, seed=3), CombinationLockEnv(12, 4, seed=3)
    assert a.combination.tolist() == b.combination.tolist()
    assert a.combination.tolist() != CombinationLockEnv(12, 4, seed=4).combination.tolist()
    before = a.combination.copy()
    for s in range(5):
        assert a.reset(seed=s)[0] == 0
    assert a.combination.tolist() == before.tolist()


def test_reset_under_a_seed_gives_identical_trajectories() -> None:
    env = CombinationLockEnv(6, 3, seed=1)
    actions = [int(x) for x in np.random.default_rng(0).integers(0, 3, size=6)]
    env.reset(seed=7)
    first = rollout(env, actions)
    env.reset(seed=7)
    assert rollout(env, actions) == first


def test_correct_sequence_is_rewarded_only_at_step_h_and_terminates() -> None:
    env = CombinationLockEnv(5, 3, combination=[2, 0, 1, 1, 0])
    steps = rollout(env, [2, 0, 1, 1, 0])
    assert [s[0] for s in steps[1:]] == [1, 2, 3, 4, env.open_id]
    assert [s[1] for s in steps[1:]] == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert [s[2] for s in steps[1:]] == [False, False, False, False, True]
    assert steps[-1][4] is True


def test_dead_state_is_absorbing_and_episode_lasts_h_steps() -> None:
    env = CombinationLockEnv(6, 3, combination=[0, 0, 0, 0, 0, 0])
    steps = rollout(env, [0, 2, 0, 0, 0, 0, 0, 0])
    assert len(steps) == 1 + 6  # ends after exactly H steps, not before
    assert [s[0] for s in steps[2:]] == [env.dead_id] * 5  # correct actions do not revive
    assert all(s[1] == 0.0 and s[4] is False for s in steps[1:])
    assert [s[2] for s in steps[1:]] == [False] * 5 + [True]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_observation_ids_are_distinct_and_in_space() -> None:
    env = CombinationLockEnv(3, 2, combination=[0, 1, 0])
    assert env.observation_space.n == 5
    assert {0, 1, 2, env.open_id, env.dead_id} == set(range(5))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"horizon": 0, "n_actions": 3}, "horizon"),
        ({"horizon": -2, "n_actions": 3}, "horizon"),
        ({"horizon": 4, "n_actions": 1}, "n_actions"),
        ({"horizon": 3, "n_actions": 2, "combination": [0, 2, 1]}, "combination"),
        ({"horizon": 3, "n_actions": 2, "combination": [0, 1]}, "combination"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CombinationLockEnv(**kwargs)


def test_invalid_action_is_rejected() -> None:
    env = CombinationLockEnv(3, 2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(2)


def test_correct_action_helper_opens_the_lock() -> None:
    env = CombinationLockEnv(10, 5, seed=11)
    obs, _ = env.reset()
    for _ in range(10):
        obs, reward, term, _, info = env.step(env.correct_action(obs))
    assert reward == 1.0 and term and info["success"]


def test_perfect_guide_always_opens_and_noisy_guide_errs_at_rate_one_minus_p() -> None:
    env = CombinationLockEnv(8, 4, seed=2)
    perfect = make_lock_guide(env, p=1.0, seed=0)
    obs, _ = env.reset()
    for _ in range(8):
        obs, reward, *_ = env.step(perfect.act(obs))
    assert reward == 1.0

    noisy = make_lock_guide(gym.make(COMBINATION_LOCK_ID, horizon=8, n_actions=4, seed=2), p=0.7, seed=5)
    picks = np.array([noisy.act(3) for _ in range(4000)])
    right = env.correct_action(3)
    assert abs(np.mean(picks == right) - 0.7) < 0.03
    wrong_counts = np.bincount(picks[picks != right], minlength=4)
    assert wrong_counts[right] == 0
    others = np.delete(wrong_counts, right)
    assert others.max() - others.min() < 0.1 * others.sum()  # uniform over the wrong ones


def test_guide_is_reproducible_under_its_seed_and_state_and_checks_p() -> None:
    env = CombinationLockEnv(5, 3, seed=0)
    a, b = make_lock_guide(env, 0.5, seed=9), make_lock_guide(env, 0.5, seed=9)
    assert [a.act(t % 5) for t in range(50)] == [b.act(t % 5) for t in range(50)]
    saved = a.state_dict()
    ahead = [a.act(1) for _ in range(20)]
    [b.act(1) for _ in range(7)]  # b drifts off, then is put back
    b.load_state_dict(saved)
    assert [b.act(1) for _ in range(20)] == ahead
    with pytest.raises(ValueError, match="p must"):
        make_lock_guide(env, 1.5)
