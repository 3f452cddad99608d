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
    assert result["prediction"]["env_steps_per_s"]["1"] > 0 and result["prediction"]["learner_cpu_s_per_env_step"] > 0
    meta = result["meta"]
    assert meta["cpu_count"] >= 1 and len(meta["loadavg_before"]) == 3
    assert meta["command"] == " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])  # how this process was started


def test_the_prediction_scales_with_machines_until_the_learner_is_full() -> None:
    def fleet(actors: int, steps: float, updates: float) -> dict:  # learner CPU: 2 ms per step + 1 ms per update
        learner_cpu = 0.002 * steps + 0.001 * updates
        return {"actors": actors, "window_s": 100.0, "env_steps": steps, "updates": updates,
                "env_steps_per_s": steps / 100.0, "cpu_s": {"learner": learner_cpu, "actors": 50.0},
                "learner_cpu_s_per_env_step": learner_cpu / steps,
                "episode_bytes_per_env_step": 100.0, "weight_bytes_per_env_step": 50.0}

    p = predict([fleet(1, 1000, 3000), fleet(2, 1500, 3000), fleet(4, 1800, 900)])
    assert p["learner_cpu_s_per_env_step"] == pytest.approx(0.002)
    assert p["learner_cpu_s_per_update"] == pytest.approx(0.001)
    assert p["updates_per_env_step"] == pytest.approx(3.0)
    assert p["learner_ceiling_env_steps_per_s"] == pytest.approx(200.0)  # one core / (2 + 3 * 1) ms per step
    assert p["env_steps_per_s"][1] == pytest.approx(10.0) and p["env_steps_per_s"][16] == pytest.approx(160.0)
    assert p["env_steps_per_s"][32] == pytest.approx(200.0)
    assert p["learner_saturates_at_machines"] == pytest.approx(20.0)
    assert p["wire_bytes_per_s"][2] == pytest.approx(20.0 * 150.0)
