"""A fleet on one host: two sim actors and the learner, each role started by its own bringup, train together.

The env is trivially easy (as in test_graph_bringup.py), so episodes are one step long and come
fast. The test checks the fleet's promises end to end: every episode an actor had acknowledged
is stored on the learner exactly once (the inbox journal and the episode folder agree), the
learner trains on them, and its checkpoints reach both actors' arbiters.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray

from jsrl_learning.config import ConfigError
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.fleet.keys import make_key_dir
from jsrl_ros.recording.episode_bags import list_episode_bags
from jsrl_ros.runtime.diagnostics import counters_of
from test_graph_bringup import scenario

LIB = Path(sys.prefix) / "lib" / "jsrl_ros"
REPO = Path(__file__).resolve().parents[1]
ACTORS = (1, 2)


def bringup(role_args: list[str], params: Path, out: Path, domain: int, keys: Path) -> subprocess.Popen:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "AMENT_PREFIX_PATH": sys.prefix,
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    command = [sys.executable, "-m", "jsrl_ros.bringup.main", *role_args, "--params", str(params), "--out", str(out),
               "--keys", str(keys), "--duration", "400"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(procs: dict[str, subprocess.Popen]) -> dict[str, str]:
    for proc in procs.values():
        proc.send_signal(signal.SIGINT)
    outputs = {}
    for name, proc in procs.items():
        try:
            outputs[name] = proc.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            outputs[name] = proc.communicate()[0]
    return outputs


@pytest.mark.skipif(not (LIB / "episode_sender").is_file(), reason="package not installed (run scripts/test.sh)")
def test_two_actors_and_a_learner_train_with_every_episode_stored_once(ros, tmp_path: Path) -> None:
    params = scenario(tmp_path)
    counters: dict[str, dict[str, dict[str, float]]] = {ns: {} for ns in ("", "actor_1", "actor_2")}
    probe = ros.node("probe")
    for ns, seen in counters.items():
        probe.create_subscription(DiagnosticArray, f"/{ns}/diagnostics" if ns else "/diagnostics",
                                  lambda m, seen=seen: seen.update(counters_of(m)), RELIABLE)
    domain = ros.context.get_domain_id()
    learner_out, keys = tmp_path / "learner", tmp_path / "keys"
    make_key_dir(keys, list(ACTORS))
    procs = {"learner": bringup(["--role", "learner", "--allowed-actors", ",".join(map(str, ACTORS))], params,
                                learner_out, domain, keys)}
    for actor in ACTORS:
        procs[f"actor_{actor}"] = bringup(["--role", "actor", "--actor-id", str(actor)], params,
                                          tmp_path / f"actor_{actor}", domain, keys)

    def value(ns: str, node: str, key: str) -> float:
        return counters[ns].get(node, {}).get(key, 0.0)

    try:
        # each actor had episodes stored, acknowledged, and loaded the learner's weights at least once after
        trained = ros.spin_until(lambda: all(
            value(f"actor_{a}", "episode_sender", "acks") >= 5
            and value(f"actor_{a}", "weights_receiver", "completed") >= 2
            and value(f"actor_{a}", "policy_arbiter", "explorer_loads") >= 2 for a in ACTORS)
            and value("", "learner", "updates") >= 4, 480.0)
    finally:  # Ctrl-C to each bringup, which stops its nodes (they run in sessions of their own)
        outputs = stop(procs)
    assert trained, (counters, {name: output[-3000:] for name, output in outputs.items()})
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}:\n{outputs[name]}"

    journal = [json.loads(line) for line in (learner_out / "fleet" / "inbox.log").read_text().splitlines()]
    keys = [(e["actor"], e["episode"]) for e in journal]
    assert len(keys) == len(set(keys)) and all(e["status"] == "stored" for e in journal)  # exactly once
    stored = {bag.name for bag in list_episode_bags(learner_out / "episodes")}
    assert stored == {f"actor_{a}_{e}" for a, e in keys}
    for actor in ACTORS:
        acked = (tmp_path / f"actor_{actor}" / "fleet" / "outbox" / "acked.log").read_text().split()[::2]
        assert acked and {f"actor_{actor}_{e}" for e in acked} <= stored
        sent = {bag.name for bag in list_episode_bags(tmp_path / f"actor_{actor}" / "episodes")}
        assert set(acked) <= sent
    assert yaml.safe_load((learner_out / "curriculum.json").read_text())["stage"] >= 0


def test_roles_name_their_actors_and_reach_namespaced_nodes(tmp_path: Path, monkeypatch) -> None:
    from jsrl_ros.bringup.fleet_graphs import check_key_files, fleet_actor, fleet_learner, namespaced_sections

    keys = str(tmp_path / "keys")
    make_key_dir(Path(keys), [1, 3])
    actor = fleet_actor(actor_id="3", keys=keys)
    assert actor.namespace == "actor_3"
    params = {"/**": {"ros__parameters": {"seed": 0}}, "recorder": {"ros__parameters": {"close_timeout": 1.0}},
              "/learner": {"ros__parameters": {}}}
    assert namespaced_sections(params, actor) == {"/**": params["/**"], "/actor_3/recorder": params["recorder"],
                                                  "/learner": {"ros__parameters": {}}}  # not a node of the actor
    sender = next(s for s in actor.nodes if s.name == "episode_sender")
    assert sender.params["key_file"] == f"{keys}/actor_3.key"
    receiver = next(s for s in actor.nodes if s.name == "weights_receiver")
    assert receiver.params["learner_public_key_file"] == f"{keys}/learner.pub"  # never the private key
    learner = fleet_learner(allowed_actors="1,3", curriculum="per_actor", keys=keys)
    assert [s.name for s in learner.nodes] == ["episode_receiver", "learner", "weights_broadcaster"]
    assert learner.nodes[0].params["actor_keys"] == [f"1={keys}/actor_1.key", f"3={keys}/actor_3.key"]
    assert learner.nodes[2].params["key_file"] == f"{keys}/learner.key"
    for bad in ("", "1,1", "-1", "a"):
        with pytest.raises(ValueError, match="allowed_actors"):
            fleet_learner(allowed_actors=bad, keys=keys)
    with pytest.raises(ValueError, match="one actor id"):
        fleet_actor(actor_id="1,2", keys=keys)
    # keys are required: one error, before any node starts, naming the parameter and the missing file
    check_key_files(learner)
    check_key_files(actor)
    with pytest.raises(ConfigError, match=f"episode_receiver.actor_keys .*: key file '{keys}/actor_2.key' not found"):
        check_key_files(fleet_learner(allowed_actors="1,2", keys=keys))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="runs/fleet/keys/actor_1.key' not found"):
        check_key_files(fleet_actor(actor_id="1"))  # the default folder
