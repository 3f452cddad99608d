"""Weights receiver (an actor of a fleet): the learner's checkpoints, verified, written, announced locally.

Chunks from ``/fleet/weights`` are put back together (:class:`~jsrl_ros.fleet.chunks.Reassembly`:
any order, a newer checkpoint interrupts an older one, the whole file's sha256 checked, every
chunk signed by the learner, checked with its public key ``learner_public_key_file``, required:
``unauthenticated`` counts the others); a verified file is written atomically to ``checkpoint_path`` and its path announced on the actor's
latched ``jsrl/checkpoint``, where the unchanged arbiter loads it off its control loop. At start
a checkpoint already at ``checkpoint_path`` is announced at once, so a restarted actor acts with
its last weights even while the learner is away. docs/fleet.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from std_msgs.msg import String, UInt8MultiArray

from jsrl_learning.checkpoint import atomic_write_bytes
from jsrl_learning.config import require
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import LATCHED
from jsrl_ros.fleet.chunks import Reassembly
from jsrl_ros.fleet.keys import read_public_key
from jsrl_ros.fleet.seals import VerifyKey
from jsrl_ros.fleet.messages import message_frame, weights_qos
from jsrl_ros.fleet.wire import MalformedFrame, Unauthenticated
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.writable import require_writable_dir


class WeightsReceiver(CheckedNode):
    RENAMED_PARAMETERS = {"learner_key_file": "learner_public_key_file"}  # weights are Ed25519-signed since v3

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("weights_receiver", **node_kwargs)
        where = f"{self.get_name()} parameters"
        self.checkpoint_path = Path(self.declare_parameter("checkpoint_path", "checkpoints/explorer.pt").value)
        chunk_kib = self.declare_parameter("chunk_kib", 512).value
        max_mib = self.declare_parameter("max_checkpoint_mib", 64).value
        require(chunk_kib >= 1 and max_mib >= 1, where,
                f"chunk_kib and max_checkpoint_mib must be >= 1, got {chunk_kib}, {max_mib}")
        require_writable_dir(self.checkpoint_path.parent, f"{where}: checkpoint_path")
        key = read_public_key(self.declare_parameter("learner_public_key_file", "").value,
                              f"{where}: learner_public_key_file")
        self.assembly = Reassembly(VerifyKey(key), max_mib * 2**20)
        self.dropped = self.write_errors = self.unauthenticated = 0
        self.health = Health()
        self.checkpoint_pub = self.create_publisher(String, topics.CHECKPOINT, LATCHED)
        self.create_subscription(UInt8MultiArray, topics.FLEET_WEIGHTS, self.on_chunk, weights_qos(max_mib, chunk_kib))
        self.watch = GraphWatch(self, self.health)  # it plays the learner's part here: a second one is refused
        self.watch.own([topics.CHECKPOINT])
        if self.checkpoint_path.is_file():
            self.checkpoint_pub.publish(String(data=str(self.checkpoint_path)))
            self.get_logger().info(f"announced the checkpoint already at {self.checkpoint_path}")
        publish_counters(self, lambda: {**vars(self.assembly.counters), "dropped": self.dropped,
                                        "unauthenticated": self.unauthenticated, "write_errors": self.write_errors},
                         health=self.health)
        self.get_logger().info(f"weights from {topics.FLEET_WEIGHTS} to {self.checkpoint_path}")

    def on_chunk(self, msg: UInt8MultiArray) -> None:
        try:
            complete = self.assembly.add(message_frame(msg))
        except Unauthenticated as exc:
            self.unauthenticated += 1
            return self.get_logger().error(f"{topics.FLEET_WEIGHTS}: refused a chunk not signed with the learner's "
                                           f"key: {exc} ({self.unauthenticated} so far)", throttle_duration_sec=2.0)
        except MalformedFrame as exc:
            self.dropped += 1
            return self.get_logger().warning(f"{topics.FLEET_WEIGHTS}: dropped: {exc} ({self.dropped} so far)",
                                             throttle_duration_sec=2.0)
        if complete is None:
            return
        header, data = complete
        try:
            atomic_write_bytes(self.checkpoint_path, data)
        except OSError as exc:
            self.write_errors += 1
            return self.get_logger().error(f"{self.checkpoint_path}: could not write checkpoint {header.serial} "
                                           f"({exc}); keeping the previous one", throttle_duration_sec=2.0)
        self.checkpoint_pub.publish(String(data=str(self.checkpoint_path)))
        self.get_logger().info(f"checkpoint {header.serial} ({header.size} bytes) written to {self.checkpoint_path}")


def main(argv: list[str] | None = None) -> int:
    return spin_node(WeightsReceiver, argv)


if __name__ == "__main__":
    raise SystemExit(main())
