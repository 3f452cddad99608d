"""Fleet probes run inside a lab's namespaces (test/test_fleet_netns.py).

``diag TOPIC...``: jsrl_bench.fleet.diag_probe (a JSON line of counters per DiagnosticArray received).
``intruder BAG ACTOR EPISODE``: sends BAG as episode EPISODE of actor ACTOR on /fleet/episodes once a
second, signed with a key of its own (it has none of the fleet's): an unknown id, or an impostor using
a known one. Whether it got in is read from the learner's journal and counters.
``graph SECONDS TOPIC...``: a fresh participant's view of each topic after SECONDS of discovery: a line
``TOPIC publishers [...] subscribers [...]`` (node names), for a failing test to say who matched whom.
"""
from __future__ import annotations

import hashlib
import secrets
import sys
import time
from pathlib import Path

import rclpy
from rclpy.node import Node
from std_msgs.msg import UInt8MultiArray

from jsrl_bench.fleet import diag_probe
from jsrl_ros.contract.topics import FLEET_EPISODES
from jsrl_ros.fleet.bag_files import pack
from jsrl_ros.fleet.keys import KEY_BYTES
from jsrl_ros.fleet.messages import episodes_qos, frame_message
from jsrl_ros.fleet.wire import EpisodeHeader, encode_episode


def intruder(node: Node, bag: Path, actor: int, episode: str) -> None:
    files, body = pack(bag)
    header = EpisodeHeader(actor, episode, files, hashlib.sha256(body).hexdigest(), time.time())
    frame = encode_episode(header, body, secrets.token_bytes(KEY_BYTES))
    publisher = node.create_publisher(UInt8MultiArray, FLEET_EPISODES, episodes_qos(8))
    node.create_timer(1.0, lambda: (publisher.publish(frame_message(frame)), print("sent", flush=True)))
    rclpy.spin(node)


def graph(node: Node, seconds: float, topics: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    def names(endpoints: list) -> list[str]:
        return sorted(f"{e.node_namespace.rstrip('/')}/{e.node_name}" for e in endpoints)
    for topic in topics:
        print(f"{topic} publishers {names(node.get_publishers_info_by_topic(topic))} "
              f"subscribers {names(node.get_subscriptions_info_by_topic(topic))}", flush=True)


def main() -> None:
    if sys.argv[1] == "diag":
        return diag_probe.main(sys.argv[2:])
    rclpy.init()
    node = Node(f"fleet_probe_{sys.argv[1]}")
    if sys.argv[1] == "intruder":
        intruder(node, Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "graph":
        graph(node, float(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit(f"role must be diag, intruder or graph, got {sys.argv[1]!r}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
