"""Fleet probes run inside a lab's namespaces (test/test_fleet_netns.py).

``diag TOPIC...``: prints ``{"topic", "counters"}`` as a JSON line per DiagnosticArray received.
``intruder BAG ACTOR``: sends BAG as an episode of actor ACTOR on /fleet/episodes once a second, and
prints every acknowledgement addressed to that actor (an unknown actor must never get one).
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import UInt8MultiArray

from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.contract.topics import FLEET_ACKS, FLEET_EPISODES
from jsrl_ros.fleet.bag_files import pack
from jsrl_ros.fleet.messages import ACKS_QOS, episodes_qos, frame_message, message_frame
from jsrl_ros.fleet.wire import EpisodeHeader, decode_ack, encode_episode
from jsrl_ros.runtime.diagnostics import counters_of


def diag(node: Node, topics: list[str]) -> None:
    for topic in topics:
        node.create_subscription(DiagnosticArray, topic, lambda m, t=topic: print(
            json.dumps({"topic": t, "counters": counters_of(m)}), flush=True), RELIABLE)
    rclpy.spin(node)


def intruder(node: Node, bag: Path, actor: int) -> None:
    files, body = pack(bag)
    frame = encode_episode(EpisodeHeader(actor, bag.name, files, hashlib.sha256(body).hexdigest(), time.time()), body)
    publisher = node.create_publisher(UInt8MultiArray, FLEET_EPISODES, episodes_qos(8))

    def on_ack(msg: UInt8MultiArray) -> None:
        ack = decode_ack(message_frame(msg))
        if ack.actor == actor:
            print(f"ack {ack}", flush=True)

    node.create_subscription(UInt8MultiArray, FLEET_ACKS, on_ack, ACKS_QOS)
    node.create_timer(1.0, lambda: (publisher.publish(frame_message(frame)), print("sent", flush=True)))
    rclpy.spin(node)


def main() -> None:
    rclpy.init()
    node = Node(f"fleet_probe_{sys.argv[1]}")
    if sys.argv[1] == "diag":
        diag(node, sys.argv[2:])
    elif sys.argv[1] == "intruder":
        intruder(node, Path(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(f"role must be diag or intruder, got {sys.argv[1]!r}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
