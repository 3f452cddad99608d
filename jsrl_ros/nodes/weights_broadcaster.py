"""Weights broadcaster (the learner side of a fleet): each new checkpoint's bytes to every actor.

The learner announces each checkpoint's path on latched ``jsrl/checkpoint``; this node reads the
file, cuts it into ``chunk_kib`` chunks (:func:`~jsrl_ros.fleet.chunks.split`, the whole file's
sha256 in every chunk, a serial that grows with every broadcast: the wall clock in ns, so a
restarted learner's checkpoints still win) and publishes them on ``/fleet/weights``, latched
with room for every chunk of a ``max_checkpoint_mib`` file, so an actor that joins late gets the
current weights at once. A file identical to the last one broadcast (the learner re-announces on
resume) is not sent again. Every chunk is signed with the learner's secret ``key_file`` (required),
which every actor holds: actors take weights from nobody else. docs/fleet.md.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any

from std_msgs.msg import String, UInt8MultiArray

from jsrl_learning.config import require
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import LATCHED
from jsrl_ros.fleet.chunks import split
from jsrl_ros.fleet.keys import read_key
from jsrl_ros.fleet.seals import SigningKey
from jsrl_ros.fleet.messages import frame_message, weights_qos
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node


class WeightsBroadcaster(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("weights_broadcaster", **node_kwargs)
        where = f"{self.get_name()} parameters"
        self.chunk_kib = self.declare_parameter("chunk_kib", 512).value
        self.max_mib = self.declare_parameter("max_checkpoint_mib", 64).value
        require(self.chunk_kib >= 1 and self.max_mib >= 1, where,
                f"chunk_kib and max_checkpoint_mib must be >= 1, got {self.chunk_kib}, {self.max_mib}")
        self.key = SigningKey(read_key(self.declare_parameter("key_file", "").value,
                                       f"{where}: key_file (the learner's private key)"))
        self.broadcasts = self.chunks = self.dropped = 0
        self.bytes = self.last_publish_s = 0.0
        self.last_digest = ""
        self.health = Health()
        self.weights_pub = self.create_publisher(UInt8MultiArray, topics.FLEET_WEIGHTS,
                                                 weights_qos(self.max_mib, self.chunk_kib))
        self.create_subscription(String, topics.CHECKPOINT, self.on_checkpoint, LATCHED)
        self.watch = GraphWatch(self, self.health)  # the learner announces; a second broadcaster is refused
        self.watch.expect(topics.CHECKPOINT)
        self.watch.own([topics.FLEET_WEIGHTS])
        publish_counters(self, lambda: {"broadcasts": self.broadcasts, "chunks": self.chunks, "bytes": self.bytes,
                                        "last_publish_s": self.last_publish_s, "dropped": self.dropped},
                         health=self.health)
        self.get_logger().info(f"checkpoints from {topics.CHECKPOINT} to {topics.FLEET_WEIGHTS} in "
                               f"{self.chunk_kib} KiB chunks")

    def on_checkpoint(self, msg: String) -> None:
        try:
            with open(msg.data, "rb") as f:
                data = f.read(self.max_mib * 2**20 + 1)
        except OSError as exc:
            return self.drop(f"cannot read {msg.data!r}: {exc}")
        if not data or len(data) > self.max_mib * 2**20:
            return self.drop(f"{msg.data!r} is {len(data)} bytes; 1 byte to max_checkpoint_mib {self.max_mib} MiB "
                             f"are broadcast")
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.last_digest:
            return
        start = time.monotonic()
        frames = split(data, time.time_ns(), self.chunk_kib * 1024, self.key)
        for frame in frames:
            self.weights_pub.publish(frame_message(frame))
        self.last_publish_s = time.monotonic() - start
        self.last_digest = digest
        self.broadcasts += 1
        self.chunks += len(frames)
        self.bytes += len(data)
        self.get_logger().info(f"broadcast {msg.data} ({len(data)} bytes, {len(frames)} chunks, "
                               f"{self.last_publish_s * 1e3:.0f} ms)")

    def drop(self, reason: str) -> None:
        self.dropped += 1
        self.get_logger().error(f"{topics.CHECKPOINT}: not broadcast: {reason}", throttle_duration_sec=2.0)


def main(argv: list[str] | None = None) -> int:
    return spin_node(WeightsBroadcaster, argv)


if __name__ == "__main__":
    raise SystemExit(main())
