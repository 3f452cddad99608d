"""A fleet across network namespaces (issue 14): two sim actors in one namespace, the learner in another,
joined by a virtual switch, DDS discovery through configured peers only.

One scenario, phase by phase (each bringup costs tens of seconds of start-up on two cores, so the faults
share one fleet): it trains across the namespaces; the learner is killed and restarted, and every
episode arrives exactly once; the learner's link is pulled for 30 s and restored, and nothing is lost;
an actor is killed and the learner goes on with the other; an unknown actor's episodes are refused
throughout. Checked from the journals on disk (the inbox's, fsynced, and each actor's acks) and the
nodes' diagnostics, read by probes inside the namespaces. Every process has its keys (made in the
test's tmp folder); the intruders have none: an unknown id, and an impostor using actor 1's id.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet_lab import netns_lab, peer_env, wait_until  # noqa: F401 (fixture)
from jsrl_bench.fleet import diag_probe
from jsrl_ros.fleet.keys import make_key_dir
from jsrl_ros.fleet.netns import NetnsLab
from jsrl_ros.recording.episode_bags import list_episode_bags
from test_graph_bringup import scenario

LIB = Path(sys.prefix) / "lib" / "jsrl_ros"
REPO = Path(__file__).resolve().parents[1]
FLEET_PROBE = str(Path(__file__).with_name("fleet_probe.py"))
ACTORS = (1, 2)
UNKNOWN_ACTOR = 9
IMPOSTOR_EPISODE = "episode_900000"  # what the impostor claims actor 1 recorded
# Well past the peers' 20 s participant lease (+ its 3 s announcements), so both sides drop each other and
# rediscover afresh: an outage ending right at the lease can leave one side dropping the other while the other
# does not, and Fast DDS then never re-matches the endpoints (eProsima/Fast-DDS#155, #457). A precaution: the
# failures seen so far are the open restart bug of docs/fleet.md, not this race.
OUTAGE_S = 30.0
BOUND_S = 300.0  # generous: graph start-up and training on two loaded cores


class Fleet:
    """The lab's bringups and what they leave on disk."""

    def __init__(self, lab: NetnsLab, tmp_path: Path) -> None:
        self.lab, self.tmp = lab, tmp_path
        self.params = scenario(tmp_path)
        self.env = {host: {**peer_env(lab, host, tmp_path), "AMENT_PREFIX_PATH": sys.prefix} for host in lab.hosts}
        self.learner_out, self.keys = tmp_path / "learner", tmp_path / "keys"
        make_key_dir(self.keys, list(ACTORS))
        self.procs: dict[str, subprocess.Popen] = {}

    def bringup(self, host: str, name: str, role_args: list[str], out: Path) -> None:
        command = [sys.executable, "-m", "jsrl_ros.bringup.main", *role_args, "--params", str(self.params),
                   "--out", str(out), "--keys", str(self.keys), "--duration", "900"]
        self.procs[name] = self.lab.spawn(host, command, name, self.env[host], cwd=REPO)

    def start_learner(self, name: str) -> None:
        self.bringup("learner", name, ["--role", "learner", "--allowed-actors", ",".join(map(str, ACTORS))],
                     self.learner_out)

    def start_actor(self, actor: int) -> None:
        self.bringup("actors", f"actor_{actor}", ["--role", "actor", "--actor-id", str(actor)], self.actor_out(actor))

    def probe(self, host: str, name: str, *args: str) -> None:
        self.procs[name] = self.lab.spawn(host, [sys.executable, FLEET_PROBE, *args], name, self.env[host])

    def actor_out(self, actor: int) -> Path:
        return self.tmp / f"actor_{actor}"

    def recorded(self, actor: int) -> set[str]:
        return {bag.name for bag in list_episode_bags(self.actor_out(actor) / "episodes")}

    def acked(self, actor: int) -> set[str]:
        log = self.actor_out(actor) / "fleet" / "outbox" / "acked.log"
        return set(log.read_text().split()[::2]) if log.exists() else set()

    def journal(self) -> list[dict]:
        log = self.learner_out / "fleet" / "inbox.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def stored(self) -> set[str]:
        return {bag.name for bag in list_episode_bags(self.learner_out / "episodes")}

    def counter(self, probe: str, topic: str, node: str, key: str) -> float:
        """The latest value of a node's diagnostics counter, as a probe last printed it (0 if none yet)."""
        return diag_probe.latest_counters(self.lab.log(probe), [topic])[topic].get(node, {}).get(key, 0.0)

    def logs(self) -> str:
        """Each process's last output, then the summary (last, so that a CI log's tail shows it)."""
        return "\n".join([*(f"--- {name} ---\n{self.lab.log(name)[-3000:]}" for name in self.procs), self.summary()])

    def summary(self) -> str:
        """Who is alive, each end's link counters, and who a fresh participant in each namespace sees on the
        fleet's topics: what tells a discovery failure from a node that stopped."""
        lines = ["--- summary ---", "exited: " + (", ".join(f"{name} {proc.returncode}" for name, proc in
                                                            self.procs.items() if proc.poll() is not None) or "none")]
        for actor in ACTORS:
            topic = f"/actor_{actor}/diagnostics"
            nodes = diag_probe.latest_counters(self.lab.log("diag_actors"), [topic])[topic]
            lines.append(f"{topic}: episode_sender {nodes.get('episode_sender', {})}, "
                         f"weights_receiver {nodes.get('weights_receiver', {}).get('completed')}")
        nodes = diag_probe.latest_counters(self.lab.log("diag_learner"), ["/diagnostics"])["/diagnostics"]
        lines.append(f"/diagnostics: episode_receiver {nodes.get('episode_receiver', {})}")
        for host in self.lab.hosts:
            name = f"graph_{host}_{time.monotonic_ns()}"
            probe = self.lab.spawn(host, [sys.executable, FLEET_PROBE, "graph", "8", "/fleet/episodes", "/fleet/acks"],
                                   name, self.env[host])
            try:
                probe.wait(60)
            except subprocess.TimeoutExpired:
                NetnsLab.kill(probe)
            lines.append(f"seen from {host}: {self.lab.log(name).strip()}")
        return "\n".join(lines)


def _all_acked(fleet: Fleet, episodes: dict[int, set[str]]) -> bool:
    return all(episodes[a] <= fleet.acked(a) for a in episodes)


@pytest.mark.skipif(not (LIB / "episode_sender").is_file(), reason="package not installed (run scripts/test.sh)")
def test_a_fleet_across_namespaces_trains_and_loses_nothing_through_restarts_outages_and_intruders(
        netns_lab, tmp_path: Path) -> None:
    lab = netns_lab(["actors", "learner"])
    fleet = Fleet(lab, tmp_path)
    fleet.probe("learner", "diag_learner", "diag", "/diagnostics")
    fleet.probe("actors", "diag_actors", "diag", *(f"/actor_{a}/diagnostics" for a in ACTORS))
    fleet.start_learner("learner")
    for actor in ACTORS:
        fleet.start_actor(actor)

    # 1. It trains across the namespaces: episodes stored and acknowledged, the learner's weights back at both actors.
    assert wait_until(lambda: all(len(fleet.acked(a)) >= 3 and (fleet.actor_out(a) / "checkpoints/explorer.pt").is_file()
                                  and fleet.counter("diag_actors", f"/actor_{a}/diagnostics", "policy_arbiter",
                                                    "explorer_loads") >= 1 for a in ACTORS)
                      and fleet.counter("diag_learner", "/diagnostics", "learner", "updates") >= 2, BOUND_S), fleet.logs()

    # From now on, once a second, two intruders send a well-formed episode signed with keys of their own:
    # an unknown actor (id 9, not in --allowed-actors), and an impostor claiming actor 1's id.
    intruder_bag = next(iter(list_episode_bags(fleet.actor_out(1) / "episodes")))
    fleet.probe("actors", "intruder", "intruder", str(intruder_bag), str(UNKNOWN_ACTOR), "episode_000000")
    fleet.probe("actors", "impostor", "intruder", str(intruder_bag), "1", IMPOSTOR_EPISODE)

    # 2. The learner crashes (SIGKILL, its nodes too) and restarts: every episode recorded before the crash
    #    is acknowledged afterwards.
    NetnsLab.kill(fleet.procs["learner"])
    before_crash = {a: fleet.recorded(a) for a in ACTORS}
    fleet.start_learner("learner_restarted")
    assert wait_until(lambda: _all_acked(fleet, before_crash), BOUND_S), fleet.logs()

    # 3. The learner's cable is pulled for OUTAGE_S; the actors go on recording; after it is back every episode
    #    recorded until then is acknowledged.
    lab.set_link("learner", up=False)
    at_pull = {a: fleet.recorded(a) for a in ACTORS}
    time.sleep(OUTAGE_S)
    at_restore = {a: fleet.recorded(a) for a in ACTORS}
    lab.set_link("learner", up=True)
    assert any(at_restore[a] - at_pull[a] for a in ACTORS), "no episode was recorded during the outage"
    assert wait_until(lambda: _all_acked(fleet, at_restore), BOUND_S), fleet.logs()

    # 4. Actor 2 crashes; the learner goes on with actor 1: more episodes stored, more updates.
    NetnsLab.kill(fleet.procs["actor_2"])
    stored_1 = len(fleet.acked(1))
    updates = fleet.counter("diag_learner", "/diagnostics", "learner", "updates")
    assert wait_until(lambda: len(fleet.acked(1)) >= stored_1 + 3
                      and fleet.counter("diag_learner", "/diagnostics", "learner", "updates") > updates, BOUND_S), \
        fleet.logs()

    # 5. The intruders were refused throughout: counted (the unknown id, and the known id without its key),
    #    never journalled, acknowledged or stored (checked below).
    assert fleet.counter("diag_learner", "/diagnostics", "episode_receiver", "unknown_actor") >= 2, fleet.logs()
    assert fleet.counter("diag_learner", "/diagnostics", "episode_receiver", "unauthenticated") >= 2, fleet.logs()
    assert "sent" in lab.log("intruder") and "sent" in lab.log("impostor")

    # Exactly once: one journal entry per (actor, episode), all stored, the episode folder agrees, every
    # acknowledged episode is there, and nothing of the unknown actor (read once everything has stopped).
    for name in ("intruder", "impostor", "actor_1", "learner_restarted"):
        NetnsLab.stop(fleet.procs[name], grace_s=60.0)
    journal = fleet.journal()
    keys = [(entry["actor"], entry["episode"]) for entry in journal]
    assert len(keys) == len(set(keys)) and all(entry["status"] == "stored" for entry in journal)
    assert fleet.stored() == {f"actor_{a}_{e}" for a, e in keys}
    for actor in ACTORS:
        assert {f"actor_{actor}_{e}" for e in fleet.acked(actor)} <= fleet.stored()
        assert fleet.acked(actor) <= fleet.recorded(actor)
    assert not any(a == UNKNOWN_ACTOR or e == IMPOSTOR_EPISODE for a, e in keys)
    assert f"actor_1_{IMPOSTOR_EPISODE}" not in fleet.stored()
