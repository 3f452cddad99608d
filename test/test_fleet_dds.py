"""DDS across network namespaces with discovery through configured peers only (issue 14's fleet transport).

The namespaces have separate network stacks joined by a virtual switch, so a message that arrives
went over the (virtual) wire: no loopback, and the peer profile turns shared memory off.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fleet_lab import DOMAIN_ID, data_lines, netns_lab, peer_env, probe, wait_until  # noqa: F401 (fixture)
from jsrl_ros.fleet import netns
from jsrl_ros.fleet.dds_peers import peer_environment, profile_xml

NS = "{http://www.eprosima.com}"
DISCOVERY_MULTICAST_PORT = 7400 + 250 * DOMAIN_ID  # RTPS well-known port: PB + DG * domain + d0


def _profile(peers: list[str]) -> ET.Element:
    return ET.fromstring(profile_xml(peers))


def test_profile_lists_the_peers_and_localhost_over_udpv4_with_no_multicast() -> None:
    root = _profile(["10.1.2.3", "192.168.0.9"])
    participant = root.find(f"{NS}profiles/{NS}participant")
    assert participant.get("is_default_profile") == "true"
    builtin = participant.find(f"{NS}rtps/{NS}builtin")
    peers = [a.text for a in builtin.find(f"{NS}initialPeersList").iter(f"{NS}address")]
    assert peers == ["127.0.0.1", "10.1.2.3", "192.168.0.9"]
    assert builtin.find(f"{NS}metatrafficMulticastLocatorList") is None
    assert builtin.find(f"{NS}avoid_builtin_multicast").text == "true"
    assert participant.find(f"{NS}rtps/{NS}useBuiltinTransports").text == "false"
    assert [t.text for t in root.iter(f"{NS}type")] == ["UDPv4"]


@pytest.mark.parametrize("peer, complaint", [("learner.local", "not an IP address"), ("::1", "IPv6")])
def test_profile_refuses_a_peer_that_is_not_an_ipv4_address(peer: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        profile_xml([peer])


def test_environment_selects_the_profile_and_leaves_its_discovery_alone(tmp_path: Path) -> None:
    env = peer_environment(tmp_path / "p.xml")
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str((tmp_path / "p.xml").resolve())
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SYSTEM_DEFAULT"
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"


def test_cli_writes_the_profile_and_prints_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "fleet_dds.xml"
    done = subprocess.run([sys.executable, "-m", "jsrl_ros.fleet.dds_peers", "--peers", "10.0.0.2", "--out", str(out)],
                          capture_output=True, text=True, check=True)
    assert "10.0.0.2" in out.read_text()
    assert f"FASTDDS_DEFAULT_PROFILES_FILE={out.resolve()}" in done.stdout.splitlines()
    bad = subprocess.run([sys.executable, "-m", "jsrl_ros.fleet.dds_peers", "--peers", "nohost", "--out", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "'nohost' is not an IP address" in bad.stderr


def test_publisher_in_one_namespace_reaches_a_subscriber_in_another_through_peers_and_no_multicast(
        netns_lab, tmp_path: Path) -> None:
    lab = netns_lab(["actors", "learner"])
    sniffer = probe(lab, "learner", "sniff", "sniff", dict(os.environ), lab.ips["learner"], str(DISCOVERY_MULTICAST_PORT))
    assert wait_until(lambda: "sniffing" in lab.log("sniff"), 30), lab.log("sniff")
    probe(lab, "learner", "listen", "listen", peer_env(lab, "learner", tmp_path))
    probe(lab, "actors", "talk", "talk", peer_env(lab, "actors", tmp_path))
    assert wait_until(lambda: len(data_lines(lab, "listen")) >= 20, 60), lab.log("listen") + lab.log("talk")
    assert data_lines(lab, "sniff") == [], "a peer-configured participant sent discovery multicast"
    # The sniffer does see multicast discovery: a participant with ROS's default (SUBNET) discovery sends it.
    subnet_env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN_ID), ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET")
    probe(lab, "actors", "talk", "talk_subnet", subnet_env)
    assert wait_until(lambda: data_lines(lab, "sniff"), 60), lab.log("talk_subnet")
    assert sniffer.poll() is None


def test_without_configured_peers_nothing_crosses(netns_lab, tmp_path: Path) -> None:
    lab = netns_lab(["actors", "learner"])
    probe(lab, "learner", "listen", "listen", peer_env(lab, "learner", tmp_path, with_peers=False))
    talker = probe(lab, "actors", "talk", "talk", peer_env(lab, "actors", tmp_path, with_peers=False))
    assert wait_until(lambda: "listening" in lab.log("listen"), 60), lab.log("listen")
    time.sleep(10)  # with peers, discovery takes under a second here (test above)
    assert talker.poll() is None, lab.log("talk")
    assert data_lines(lab, "listen") == []


def test_a_pulled_link_stops_the_traffic_and_a_restored_one_resumes_it(netns_lab, tmp_path: Path) -> None:
    lab = netns_lab(["actors", "learner"])
    probe(lab, "learner", "listen", "listen", peer_env(lab, "learner", tmp_path))
    probe(lab, "actors", "talk", "talk", peer_env(lab, "actors", tmp_path))
    assert wait_until(lambda: len(data_lines(lab, "listen")) >= 5, 60), lab.log("listen") + lab.log("talk")
    lab.set_link("learner", up=False)
    time.sleep(2)  # let what was in flight land
    while_down = len(data_lines(lab, "listen"))
    time.sleep(5)
    assert len(data_lines(lab, "listen")) == while_down
    lab.set_link("learner", up=True)
    assert wait_until(lambda: len(data_lines(lab, "listen")) > while_down + 5, 60)


def test_closing_a_lab_removes_its_namespaces_and_processes(tmp_path: Path) -> None:
    reason = netns.available()
    if reason:
        pytest.skip(f"needs network namespaces: {reason}")
    lab = netns.NetnsLab(["one", "two"], tmp_path)
    sleeper = lab.spawn("one", ["sleep", "600"], "sleeper")
    names = [*lab.hosts.values(), lab.switch]
    assert set(names) <= set(netns.namespaces())
    lab.close()
    assert sleeper.poll() is not None
    assert not set(names) & set(netns.namespaces())


def test_namespaces_of_a_dead_run_are_swept(tmp_path: Path) -> None:
    reason = netns.available()
    if reason:
        pytest.skip(f"needs network namespaces: {reason}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{netns.PREFIX}-{dead.pid}-leftover"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in netns.sweep_stale()
        assert stale not in netns.namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)
