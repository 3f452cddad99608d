"""``jsrl bench fleet --netns`` in its smallest setting (one sim actor for a few seconds on the trivial env,
learner and actor on two network namespaces): the bytes on the learner's link are counted, and they are
at least the episode frames the actor sent across it; without namespaces it stops with one line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from jsrl_bench.cli.main import main
from jsrl_ros.fleet import netns
from test_graph_bringup import scenario

LIB = Path(sys.prefix) / "lib" / "jsrl_ros"


@pytest.mark.skipif(not (LIB / "episode_sender").is_file(), reason="package not installed (run scripts/test.sh)")
def test_a_tiny_netns_fleet_bench_counts_the_bytes_on_the_learners_link(tmp_path: Path) -> None:
    reason = netns.available()
    if reason:
        pytest.skip(f"needs network namespaces: {reason}")
    out = tmp_path / "fleet.json"
    assert main(["bench", "fleet", "--netns", "--out", str(out), "--actors", "1", "--seconds", "6",
                 "--params", str(scenario(tmp_path)), "--work-dir", str(tmp_path / "work")]) == 0
    result = json.loads(out.read_text())
    fleet, = result["fleets"]
    assert "weights" not in result and "namespaces" in result["meta"]["mode"]
    assert fleet["env_steps"] > 0 and fleet["episode_bytes_per_env_step"] > 0
    assert fleet["learner_link_rx_bytes"] > 0 and fleet["learner_link_tx_bytes"] > 0
    assert fleet["wire_bytes_per_env_step"] >= fleet["episode_bytes_per_env_step"]
    assert fleet["wire_over_payload"] == pytest.approx(fleet["wire_bytes_per_env_step"]
                                                       / fleet["payload_bytes_per_env_step"])
    assert not [ns for ns in netns.namespaces() if ns.startswith(f"{netns.PREFIX}-")
                and ns.split("-")[1] == str(os.getpid())]  # the lab is gone


def test_without_namespaces_the_netns_bench_stops_with_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(netns, "available", lambda: "network namespaces need root")
    out = tmp_path / "fleet.json"
    assert main(["bench", "fleet", "--netns", "--out", str(out), "--actors", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "jsrl bench fleet --netns: needs network namespaces: network namespaces need root"
    assert not out.exists()
