"""``jsrl bench ros`` on a tiny run (real rclpy, real processes), and ``jsrl`` starting without ROS."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jsrl_bench.cli.main import main


def test_jsrl_lists_the_ros_benches_without_importing_rclpy() -> None:
    code = ("import sys; from jsrl_bench.cli.main import main; main(['bench', '--help'])\n"
            "assert 'rclpy' not in sys.modules, 'rclpy imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert " ros " in result.stdout and " fuzz " in result.stdout, result.stdout


def test_a_tiny_run_writes_latencies_and_both_loop_rates(tmp_path: Path) -> None:
    out = tmp_path / "ros.json"
    assert main(["bench", "ros", "--out", str(out), "--samples", "6", "--warmup", "2", "--graph-steps", "8"]) == 0
    result = json.loads(out.read_text())
    for mode in ("state", "image", "state_explorer"):
        lat = result["latency"][mode]
        assert lat["samples"] == 6
        assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
        assert lat["arbiter_cpu_ms_per_obs"] >= 0
    lock = result["lockstep"]
    assert lock["graph"]["steps"] == 8 and lock["bare"]["steps"] == 8
    assert lock["graph"]["steps_per_s"] > 0 and lock["bare"]["steps_per_s"] > 0
    assert abs(lock["graph_over_bare"] - lock["graph"]["steps_per_s"] / lock["bare"]["steps_per_s"]) < 1e-9
    assert set(lock["graph"]["cpu_ms_per_step"]) == {"sim_bridge", "policy_arbiter", "bench_subscriber"}
    assert result["settings"]["samples"] == 6 and result["settings"]["graph_steps"] == 8
    assert result["settings"]["image_size"] == 64 and "between processes" in result["settings"]["transport"]
    assert len(result["machine"]["loadavg_before"]) == 3


def test_an_out_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    assert main(["bench", "ros", "--out", str(tmp_path / "ros.txt")]) != 0
    assert not (tmp_path / "ros.txt").exists()
