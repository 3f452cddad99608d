"""The QT-Opt ablation: variants merged into the base, bad variants named, one table row per variant."""
from __future__ import annotations

import pytest
import yaml

from jsrl_bench.grasp.ablation import format_ablation, load_ablation, merged, run_grasp_ablation
from jsrl_bench.sweep.common import default_config_path
from jsrl_learning.config import ConfigError

TINY_BASE = {"tasks": ["indiscriminate"], "obs": ["state"], "demos": [2], "seeds": [0], "methods": ["bc", "qtopt"],
             "online_steps": 40, "eval_every_steps": 20, "eval_episodes": 1, "final_eval_episodes": 2, "batch_size": 8,
             "qtopt": {"hidden": [8], "close_dim": 4, "cem": {"n_samples": 4, "n_iters": 1, "n_elites": 1}},
             "qtopt_offline_updates": 2, "bc": {"hidden": [8], "n_updates": 2}, "h1_rollouts": 2, "workers": 1}


def write(tmp_path, variants, base=TINY_BASE):
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump({"base": base, "variants": variants}))
    return path


def test_variants_merge_into_the_base_key_by_key():
    base = {"qtopt": {"close_dim": 4, "hidden": [8]}, "env_kwargs": {}, "seeds": [0]}
    assert merged(base, {"qtopt": {"close_dim": None}}) == {"qtopt": {"close_dim": None, "hidden": [8]},
                                                          "env_kwargs": {}, "seeds": [0]}
    assert merged(base, {"env_kwargs": {"sort_slots": False}})["env_kwargs"] == {"sort_slots": False}


def test_shipped_ablation_switches_off_one_change_per_variant():
    configs = load_ablation(default_config_path("grasp_ablation.yaml"))
    base = configs.pop("all_on")
    assert base.qtopt["close_dim"] == 4 and base.timeouts_terminal and base.methods == ["bc", "qtopt"]
    changed = {name: {k for k in vars(base) if getattr(cfg, k) != getattr(base, k)} for name, cfg in configs.items()}
    assert changed == {"unsorted_slots": {"env_kwargs"}, "raw_observations": {"qtopt"}, "unbounded_q": {"qtopt"},
                       "searched_close": {"qtopt"}, "bootstrapped_timeouts": {"timeouts_terminal"}}


def test_shipped_curriculum_comparison_changes_only_the_rule_of_the_jsrl_arm():
    configs = load_ablation(default_config_path("grasp_curriculum.yaml"))
    assert list(configs) == ["all_on", "paper_rule"]
    guide, paper = configs["all_on"], configs["paper_rule"]
    assert guide.methods == ["bc", "jsrl"] and guide.rule == "guide" and paper.rule == "paper"
    assert {k for k in vars(guide) if getattr(guide, k) != getattr(paper, k)} == {"rule"}


def test_a_bad_variant_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"variants.typo.*qtopt.*clos_dim"):
        load_ablation(write(tmp_path, {"typo": {"qtopt": {"clos_dim": None}}}))
    path = tmp_path / "flat.yaml"
    path.write_text(yaml.safe_dump(TINY_BASE))
    with pytest.raises(ConfigError, match="exactly the keys 'base'"):
        load_ablation(path)


def test_ablation_runs_every_variant_into_one_table(tmp_path):
    out = tmp_path / "ablation.json"
    result = run_grasp_ablation(write(tmp_path, {"searched_close": {"qtopt": {"close_dim": None}}}), out,
                                tmp_path / "work")
    assert list(result["variants"]) == ["all_on", "searched_close"]
    assert set(result["variants"]["all_on"]) == {"bc", "qtopt"}
    assert (tmp_path / "ablation_variants" / "searched_close.json").is_file()
    assert "searched_close" in format_ablation(result) and out.is_file()
