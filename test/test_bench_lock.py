"""The lock benchmark measures what it claims: censoring, fits, and JSRL beating ε-greedy."""
import json

import pytest

from jsrl_bench.lock.bench import (LockBenchConfig, _learnable, censored_median, fit_growth, format_table,
                                   run_lock_bench, run_single)
from jsrl_learning.config import ConfigError
from jsrl_learning.envs import CombinationLockEnv, make_lock_guide
from jsrl_learning.rollout import run_episode


@pytest.fixture(scope="module")
def tiny_result() -> dict:
    cfg = LockBenchConfig(horizons=[3, 8], budget_episodes=3000, seeds=[0, 1, 2])
    return run_lock_bench(cfg)


def test_result_holds_the_documented_fields(tiny_result: dict) -> None:
    r = json.loads(json.dumps(tiny_result, allow_nan=False))  # strict JSON
    assert r["H"] == [3, 8]
    for method in ("egreedy", "jsrl", "jsrl_explorer_only"):
        assert len(r[f"{method}_episodes"]) == 2
        assert len(r["per_seed"][method]) == 2
    for key in ("n_actions", "guide_p", "epsilon", "budget_episodes", "seeds", "window", "tolerance",
                "stage_size", "eval_every_episodes", "eval_episodes", "solve_episodes"):
        assert key in r["settings"]
    assert {run["method"] for run in r["runs"]} == {"egreedy", "jsrl", "jsrl_explorer_only"}


def test_jsrl_needs_fewer_episodes_than_egreedy_at_h8(tiny_result: dict) -> None:
    jsrl, egreedy = tiny_result["jsrl_episodes"][1], tiny_result["egreedy_episodes"][1]
    assert jsrl is not None
    assert egreedy is None or jsrl < egreedy  # None: ε-greedy's median is beyond the budget
    assert all(v is not None for v in tiny_result["per_seed"]["jsrl"][1])


def test_censored_runs_stop_the_method_and_print_as_over_budget() -> None:
    cfg = LockBenchConfig(horizons=[8, 10], budget_episodes=5, seeds=[0], methods=["egreedy"])
    r = run_lock_bench(cfg)
    assert r["egreedy_episodes"] == [None, None]
    assert r["per_seed"]["egreedy"] == [[None], None]  # H=10 never ran: the median at H=8 was censored
    assert r["median_censored_at_H"] == {"egreedy": 8}
    table = format_table(r)
    assert ">5" in table and "-" in table.splitlines()[2]


def test_runs_are_reproducible_under_their_seed() -> None:
    cfg = LockBenchConfig(horizons=[5], budget_episodes=2000, seeds=[4])
    a, b = run_single(cfg, "jsrl_explorer_only", 5, 4), run_single(cfg, "jsrl_explorer_only", 5, 4)
    assert a.episodes is not None and (a.episodes, a.train_env_steps) == (b.episodes, b.train_env_steps)


def test_explorer_only_ablation_learns_from_explorer_steps_only() -> None:
    env = CombinationLockEnv(5, 3, seed=1)
    guide = make_lock_guide(env, p=1.0)
    episode = run_episode(env, guide, lambda obs: 0, guide_steps=3)
    assert len(_learnable(episode, "jsrl")) == episode.length == 5
    only = _learnable(episode, "jsrl_explorer_only")
    assert len(only) == 2 and only.obs[0] == 3  # the perfect guide took steps 0..2


def test_censored_median_treats_censored_runs_as_largest() -> None:
    assert censored_median([5, None, 7]) == 7
    assert censored_median([None, None, 3]) is None
    assert censored_median([4, 6]) == 5


def test_fits_recover_polynomial_and_exponential_growth() -> None:
    h = [2, 4, 8, 16, 32]
    poly = fit_growth(h, [5.0 * x ** 2 for x in h])
    assert poly["loglog_slope"] == pytest.approx(2.0) and poly["loglog_r2"] == pytest.approx(1.0)
    assert poly["loglin_r2"] < poly["loglog_r2"]
    expo = fit_growth(h, [3.0 ** x for x in h])
    assert expo["loglin_base"] == pytest.approx(3.0) and expo["loglin_r2"] == pytest.approx(1.0)
    assert expo["loglog_r2"] < expo["loglin_r2"]
    assert fit_growth(h, [None, None, 3.0, 4.0, None]) is None  # fewer than 3 points


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="horizons"):
        run_lock_bench(LockBenchConfig(horizons=[8, 4], budget_episodes=10, seeds=[0]))
    with pytest.raises(ConfigError, match="max_horizon"):
        run_lock_bench(LockBenchConfig(horizons=[4], budget_episodes=10, seeds=[0], methods=["jsrl"],
                                       max_horizon={"egreedy": 4}))
