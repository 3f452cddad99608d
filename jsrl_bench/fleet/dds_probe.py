"""Probes run inside a network namespace: ``talk`` publishes a counter at 10 Hz, ``listen`` prints each
message it receives as ``<wall time> <counter>`` (reliable QoS on both); ``sniff <iface ip> <port>`` prints
a line per datagram sent to DDS's discovery multicast group on that port (no ROS involved)."""
from __future__ import annotations

import socket
import struct
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int64

TOPIC = "dds_probe"
QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


MULTICAST_GROUP = "239.255.0.1"


def sniff(interface_ip: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((MULTICAST_GROUP, port))
    membership = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton(interface_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    print("sniffing", flush=True)
    while True:
        data, sender = sock.recvfrom(65536)
        print(f"{time.time():.3f} {sender[0]} {len(data)}", flush=True)


def main(role: str) -> None:
    if role == "sniff":
        return sniff(sys.argv[2], int(sys.argv[3]))
    rclpy.init()
    node = Node(f"dds_probe_{role}")
    if role == "talk":
        publisher = node.create_publisher(Int64, TOPIC, QOS)
        count = 0
        while rclpy.ok():
            publisher.publish(Int64(data=count))
            count += 1
            rclpy.spin_once(node, timeout_sec=0.1)
    elif role == "listen":
        node.create_subscription(Int64, TOPIC, lambda m: print(f"{time.time():.3f} {m.data}", flush=True), QOS)
        print("listening", flush=True)
        rclpy.spin(node)
    else:
        raise SystemExit(f"role must be talk, listen or sniff, got {role!r}")


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except KeyboardInterrupt:
        pass
