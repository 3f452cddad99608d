"""Learner speed work: the references compute the project's losses, and ``jsrl bench learner``
writes its fields. (The fast paths against the plain update: test_fast_update.py.)"""
import json

import gymnasium as gym
import numpy as np
import pytest

from jsrl_bench.learner.bench import LearnerBenchSettings, format_table, iql_flops, run_learner_bench, write_result
from jsrl_bench.learner.reference_learners import ReferenceIQL, ReferenceQTOpt
from jsrl_learning.buffers import Batch
from jsrl_learning.learners.iql import IQLConfig, IQLLearner
from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner

OBS = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
ACT = gym.spaces.Box(np.array([-2.0, 0.0, -1.0], np.float32), np.array([2.0, 1.0, 1.0], np.float32))
IMAGE_OBS = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (40, 40, 3), np.uint8),
                             "proprio": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})


def random_batch(n: int = 16, seed: int = 0, obs_space: gym.Space = OBS) -> Batch:
    rng = np.random.default_rng(seed)
    if obs_space is OBS:
        obs, next_obs = rng.standard_normal((2, n, 5)).astype(np.float32)
    else:  # a Dict of an image and a vector
        obs_space.seed(seed)
        rows = [obs_space.sample() for _ in range(2 * n)]
        obs, next_obs = ({k: np.stack([r[k] for r in part]) for k in rows[0]} for part in (rows[:n], rows[n:]))
    return Batch(obs, rng.uniform(ACT.low, ACT.high, (n, 3)).astype(np.float32),
                 rng.standard_normal(n).astype(np.float32), next_obs, (rng.random(n) < 0.2).astype(np.float32))


def iql(**overrides) -> IQLLearner:
    return IQLLearner(IQLConfig(**{"hidden": [16, 16], "lr": 1e-2, "reward_shift": -1.0, **overrides}), OBS, ACT)


def assert_metrics_close(ours: dict, theirs: dict, rel: float = 1e-4) -> None:
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=rel, abs=1e-6), key


def test_reference_iql_computes_the_same_losses_from_the_same_weights():
    learner = iql(compile=False)
    reference = ReferenceIQL.from_learner(learner)
    for step in range(4):  # several steps: the optimisers and Polyak updates agree too
        batch = random_batch(seed=step)
        assert_metrics_close(learner.update(batch), reference.update(batch))


@pytest.mark.parametrize("maths", [{}, {"q_output": "linear"}, {"close_dim": 1}], ids=["sigmoid", "linear", "close"])
@pytest.mark.parametrize("obs_space", [OBS, IMAGE_OBS], ids=["state", "image"])
def test_reference_qtopt_computes_the_same_losses_from_the_same_weights(obs_space, maths):
    learner = QTOptLearner(QTOptConfig(hidden=[16, 16], lr=1e-2, **maths), obs_space, ACT)
    reference = ReferenceQTOpt.from_learner(learner)
    for step in range(3):
        batch = random_batch(n=8, seed=step, obs_space=obs_space)
        assert_metrics_close(learner.update(batch), reference.update(batch))


def test_reference_iql_is_not_trivially_equal():
    # The equivalence test could pass if the reference copied nothing; other weights must differ.
    batch = random_batch()
    reference = ReferenceIQL.from_learner(iql(seed=1))
    assert iql(seed=0).update(batch)["q_loss"] != pytest.approx(reference.update(batch)["q_loss"], rel=1e-3)


def test_iql_flops_match_the_design_estimate():
    assert iql_flops(29, 8, [256, 256], 256) == pytest.approx(556e6, rel=0.001)


def test_tiny_bench_run_writes_every_field(tmp_path):
    settings = LearnerBenchSettings(iql_obs={"tiny": 5}, iql_batch_size=8, hidden=[8], compile=False,
                                    qtopt_obs=["state"], qtopt_batch_sizes=[8],
                                    qtopt_variants={"default": {}, "one_iter": {"cem": {"n_iters": 1}}},
                                    threads=[1, 2], rounds=2, round_seconds=0.02)
    result = run_learner_bench(settings)
    out = tmp_path / "learner.json"
    write_result(result, out)
    loaded = json.loads(out.read_text())
    assert {"command", "torch", "cpu_count", "settings", "sgemm_gflops_per_cpu_s", "load_avg_start",
            "load_avg_end", "wall_s"} <= set(loaded["meta"])
    rows = loaded["results"]
    iql_rows = [r for r in rows if r["learner"] == "iql"]
    assert {(r["impl"], r["torch_threads"], r["update_threads"]) for r in iql_rows} == {
        ("reference", 1, 1), ("reference", 2, 1), ("project", 1, 1), ("project", 2, 1), ("project", 1, 2)}
    assert {(r["variant"], r["impl"], r["torch_threads"]) for r in rows if r["learner"] == "qtopt"} == {
        (v, impl, t) for v in ("default", "one_iter") for impl in ("reference", "project") for t in (1, 2)}
    for row in rows:
        assert row["updates"] >= 2 * 3 and len(row["rounds"]) == 2
        assert row["updates_per_s_wall"] > 0 and row["updates_per_s_cpu"] > 0 and row["cores_used"] > 0
        # the busiest thread's CPU is at most the process's; the two clocks are read at slightly different
        # moments, which a loaded machine stretches (0.89 seen at load 7): a loose bound, not a timing claim
        assert row["updates_per_s_critical"] >= 0.5 * row["updates_per_s_cpu"]
        assert {"load_avg", "warmup_wall_s", "warmup_cpu_s", "cores", "compile", "name"} <= set(row)
    summaries = {(s["learner"], s.get("variant")): s for s in loaded["summary"]}
    assert set(summaries) == {("iql", None), ("qtopt", "default"), ("qtopt", "one_iter")}
    iql_summary = summaries[("iql", None)]
    assert iql_summary["flops_per_update"] == iql_flops(5, 8, [8], 8)
    for key in ("speedup_wall", "speedup_cpu", "speedup_critical", "fraction_of_floor_wall",
                "fraction_of_floor_critical", "fraction_of_gemm_floor_cpu"):
        assert iql_summary[key] > 0
    assert iql_summary["reference_best_wall"]["name"].startswith("reference")
    assert "fraction_of_floor_wall" not in summaries[("qtopt", "default")]
    assert "project/reference" in format_table(loaded)
