"""Episode sender (an actor of a fleet): every finished episode bag goes to the learner, exactly once.

The actor's recorder announces each closed bag on ``jsrl/episode_bag``; this node puts the bag
in the actor's :class:`~jsrl_ros.fleet.outbox.Outbox` (on disk until acknowledged) and publishes
its frame on ``/fleet/episodes``. The learner's ``episode_receiver`` answers on ``/fleet/acks``.
An episode unacknowledged for ``ack_timeout`` is re-sent, whether or not a receiver is seen; when
one appears in the ROS graph (the learner came back) every pending episode is sent again at once.
At start, bags of ``episode_dir`` that were never sent (finished while this node was down) join
the outbox. Frames are signed with this actor's secret ``key_file`` (required), and only acks
signed with it count: a forged ack (which would make it drop an unsent episode) is dropped and
counted ``unauthenticated``. docs/fleet.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from std_msgs.msg import String, UInt8MultiArray

from jsrl_learning.config import ConfigError, require
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.fleet.keys import read_key
from jsrl_ros.fleet.messages import ACKS_QOS, episodes_qos, frame_message, message_frame
from jsrl_ros.fleet.outbox import Outbox
from jsrl_ros.fleet.wire import (DUPLICATE, MAX_ACTOR_ID, STORED, MalformedFrame, Unauthenticated, UnknownActor,
                                 decode_ack)
from jsrl_ros.recording.episode_bags import list_episode_bags
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.writable import require_writable_dir


class EpisodeSender(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("episode_sender", **node_kwargs)
        where = f"{self.get_name()} parameters"
        self.actor_id = self.declare_parameter("actor_id", -1).value
        self.episode_dir = Path(self.declare_parameter("episode_dir", "episodes").value)
        outbox_dir = self.declare_parameter("outbox_dir", "fleet/outbox").value
        ack_timeout = self.declare_parameter("ack_timeout", 10.0).value
        window = self.declare_parameter("window", 8).value
        key_file = self.declare_parameter("key_file", "").value
        require(0 <= self.actor_id <= MAX_ACTOR_ID, where, f"actor_id must be in [0, {MAX_ACTOR_ID}] (this actor's "
                                                           f"id in the learner's allowed_actors), got {self.actor_id}")
        require(ack_timeout > 0 and window >= 1, where,
                f"ack_timeout must be > 0 s and window >= 1, got {ack_timeout}, {window}")
        require_writable_dir(outbox_dir, f"{where}: outbox_dir")
        self.keys = {self.actor_id: read_key(key_file, f"{where}: key_file (this actor's secret key)")}
        try:
            self.outbox = Outbox(outbox_dir, self.actor_id, self.keys[self.actor_id], ack_timeout, window)
            caught_up = self.outbox.catch_up(list_episode_bags(self.episode_dir))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: outbox_dir {outbox_dir}: {exc}") from exc
        self.dropped = self.unauthenticated = 0
        self.receiver_present = False
        self.health = Health()
        self.episodes_pub = self.create_publisher(UInt8MultiArray, topics.FLEET_EPISODES, episodes_qos(window))
        self.create_subscription(String, topics.EPISODE_BAG, self.on_bag, RELIABLE)
        self.create_subscription(UInt8MultiArray, topics.FLEET_ACKS, self.on_ack, ACKS_QOS)
        self.watch = GraphWatch(self, self.health)  # one recorder feeds it; a second sender is refused
        self.watch.expect(topics.EPISODE_BAG)
        self.create_timer(0.2, self.send_due)
        publish_counters(self, lambda: {
            "pending": len(self.outbox.pending), "sent": self.outbox.sent, "resent": self.outbox.resent,
            "acks": self.outbox.acks, "rejected": self.outbox.rejected, "corrupt": self.outbox.corrupt,
            "bytes_sent": self.outbox.bytes_sent, "dropped": self.dropped, "unauthenticated": self.unauthenticated,
            "receiver_present": float(self.receiver_present)}, health=self.health)
        self.get_logger().info(f"actor {self.actor_id}: episodes of {self.episode_dir} to {topics.FLEET_EPISODES}; "
                               f"{len(self.outbox.pending)} pending ({len(caught_up)} never sent before)")

    def on_bag(self, msg: String) -> None:
        bag = Path(msg.data)
        if bag.parent.resolve() != self.episode_dir.resolve():
            return self.drop(topics.EPISODE_BAG, f"{msg.data!r} is not a bag of {self.episode_dir}")
        try:
            self.outbox.add(bag)
        except (OSError, ValueError) as exc:
            return self.drop(topics.EPISODE_BAG, f"{msg.data!r}: {exc}")
        self.send_due()

    def send_due(self) -> None:
        # A receiver's presence only hurries a re-send; it never gates one, since it can be wrong: rmw keeps the
        # writer's matched count from Fast DDS's matched-status callbacks, which 3.2.3 does not serialise
        # (eProsima/Fast-DDS#6371), so it can stay at 0 while a reader is matched, and a sender gated on it would
        # go silent for good. Delivery then depends on DDS delivering, nothing else. The ROS graph is asked too.
        present = (self.episodes_pub.get_subscription_count() > 0
                   or self.count_subscribers(self.episodes_pub.topic_name) > 0)
        if present and not self.receiver_present:
            self.get_logger().info(f"a receiver listens on {topics.FLEET_EPISODES}: sending "
                                   f"{len(self.outbox.pending)} pending")
            self.outbox.resend_all()  # it may have restarted and missed what was in flight
        self.receiver_present = present
        for name in self.outbox.due():
            frame = self.outbox.frame(name)
            if frame is None:
                self.get_logger().error(f"{name}: its outbox frame is corrupt on this disk; set aside in "
                                        f"{self.outbox.rejected_dir} (re-added from the bag at the next start)")
                continue
            self.episodes_pub.publish(frame_message(frame))

    def on_ack(self, msg: UInt8MultiArray) -> None:
        try:
            ack = decode_ack(message_frame(msg), self.keys)
        except UnknownActor:
            return  # another actor's
        except Unauthenticated as exc:
            self.unauthenticated += 1
            return self.get_logger().error(f"{topics.FLEET_ACKS}: refused an ack not signed with this actor's key: "
                                           f"{exc} ({self.unauthenticated} so far)", throttle_duration_sec=2.0)
        except MalformedFrame as exc:
            return self.drop(topics.FLEET_ACKS, str(exc))
        if self.outbox.acknowledge(ack) and ack.status not in (STORED, DUPLICATE):
            self.get_logger().error(f"{ack.episode}: the learner answered {ack.status!r}; it will not train on "
                                    f"it (set aside in {self.outbox.rejected_dir})")

    def drop(self, topic: str, reason: str) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped a message: {reason} ({self.dropped} dropped so far)",
                                  throttle_duration_sec=2.0)


def main(argv: list[str] | None = None) -> int:
    return spin_node(EpisodeSender, argv)


if __name__ == "__main__":
    raise SystemExit(main())
