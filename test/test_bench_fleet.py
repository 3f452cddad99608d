"""``jsrl bench fleet`` in its smallest setting (one sim actor for a few seconds on the trivial env, one timed
broadcast per critic to one actor): every field the docs quote is there and plausible."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jsrl_bench.cli.main import main
from jsrl_bench.fleet.bench import predict
from test_graph_bringup import scenario

LIB = Path(sys.prefix) / "lib" / "jsrl_ros"


@pytest.mark.skipif(not (LIB / "episode_sender").is_file(), reason="package not installed (run scripts/test.sh)")
def test_a_tiny_fleet_bench_writes_every_measurement(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    assert main(["bench", "fleet", "--out", str(out), "--actors", "1", "--seconds", "6", "--broadcasts", "1",
                 "--receivers", "1", "--params", str(scenario(tmp_path)), "--work-dir", str(tmp_path / "work")]) == 0
    result = json.loads(out.read_text())
    for mode in ("state", "image"):
        weights = result["weights"][mode]
        assert weights["broadcasts"] == 1 and 0 < weights["median_s"] <= weights["max_s"]
    assert result["weights"]["image"]["checkpoint_bytes"] > result["weights"]["state"]["checkpoint_bytes"]
    fleet, = result["fleets"]
    assert fleet["actors"] == 1 and fleet["window_s"] >= 6
    assert fleet["env_steps"] > 0 and fleet["env_steps_per_s"] > 0 and fleet["updates"] >= 0
    assert fleet["cpu_s"]["learner"] > 0 and fleet["cpu_s"]["actors"] > 0
    assert 0 <= fleet["delivery_latency_p50_s"] <= fleet["delivery_latency_p99_s"]
    assert fleet["episode_bytes_per_env_step"] > 0 and fleet["unauthenticated"] == 0
    assert result["prediction"]["env_steps_per_s"]["1"] > 0
    meta = result["meta"]
    assert meta["cpu_count"] >= 1 and len(meta["loadavg_before"]) == 3 and "fleet" in meta["command"]


def test_the_prediction_scales_with_machines_until_the_learner_is_full() -> None:
    fleet = {"actors": 1, "env_steps_per_s": 10.0, "learner_cpu_s_per_env_step": 0.02,
             "episode_bytes_per_env_step": 100.0, "weight_bytes_per_env_step": 50.0}
    p = predict([fleet, {**fleet, "actors": 2, "env_steps_per_s": 15.0, "learner_cpu_s_per_env_step": 0.025}])
    assert p["learner_ceiling_env_steps_per_s"] == pytest.approx(50.0)  # one core / 0.02 s per step
    assert p["env_steps_per_s"][1] == 10.0 and p["env_steps_per_s"][4] == 40.0 and p["env_steps_per_s"][8] == 50.0
    assert p["learner_saturates_at_machines"] == pytest.approx(5.0)
    assert p["wire_bytes_per_s"][2] == pytest.approx(20.0 * 150.0)
