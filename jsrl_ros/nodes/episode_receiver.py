"""Episode receiver (the learner side of a fleet): actors' episodes in, stored once, handed to the learner.

Each frame on ``/fleet/episodes`` goes through the :class:`~jsrl_ros.fleet.inbox.Inbox`: from an
actor of ``allowed_actors``, signed with that actor's key (``actor_keys``: ``ID=KEY_FILE`` for
every allowed actor, required), whole and matching its hash, it is stored as
``<episode_dir>/actor_<id>_<episode>`` and acknowledged on ``/fleet/acks``; a duplicate is
acknowledged again and not stored. Then, as the recorder does on one machine, the bag's path
goes out on ``jsrl/episode_bag`` and its summary on ``jsrl/episode_summary``, so the unchanged
learner trains on it and the one curriculum manager hears every actor's evaluations. Those two
wait until someone listens (a learner that starts later reads the folder itself). Anything
else (a malformed or truncated frame, a hash mismatch, an unknown actor, a frame without its
actor's valid MAC: ``unauthenticated``) is dropped, counted and logged, never acknowledged; an
unknown or unauthenticated actor also raises a WARN. Acks are signed with the actor's key.
``delivery_latency_p50_s``/``_p99_s``: over the last stored episodes, receive time minus the
actor's send stamp (one clock on one host; across hosts as good as their clocks). docs/fleet.md.
"""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String, UInt8MultiArray

from jsrl_learning.config import ConfigError, require
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import named_vector
from jsrl_ros.contract.names import EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.fleet.inbox import Inbox
from jsrl_ros.fleet.keys import parse_actor_keys, read_key
from jsrl_ros.fleet.messages import ACKS_QOS, episodes_qos, frame_message, message_frame
from jsrl_ros.fleet.wire import (ACK_STATUSES, DUPLICATE, MAX_ACTOR_ID, STORED, MalformedFrame, Unauthenticated,
                                 UnknownActor)
from jsrl_ros.recording.episode_bags import EpisodeMeta, read_meta
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import WARN, Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.writable import require_writable_dir

UNKNOWN_ALARM = "unknown actors"
UNAUTHENTICATED_ALARM = "unauthenticated episodes"
MAX_WAITING = 10_000  # announcements kept while nobody listens (the bags are on disk either way)
LATENCY_WINDOW = 1000  # stored episodes behind the delivery latency percentiles


class EpisodeReceiver(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("episode_receiver", **node_kwargs)
        where = f"{self.get_name()} parameters"
        allowed = list(self.declare_parameter("allowed_actors", Parameter.Type.INTEGER_ARRAY).value or [])
        episode_dir = self.declare_parameter("episode_dir", "episodes").value
        journal = self.declare_parameter("journal", "fleet/inbox.log").value
        max_mib = self.declare_parameter("max_episode_mib", 256).value
        window = self.declare_parameter("window", 8).value
        key_files = parse_actor_keys(list(self.declare_parameter("actor_keys", Parameter.Type.STRING_ARRAY).value
                                          or []), f"{where}: actor_keys")
        require(len(allowed) > 0 and all(0 <= a <= MAX_ACTOR_ID for a in allowed), where,
                f"allowed_actors must list the actor ids (0 to {MAX_ACTOR_ID}) whose episodes are accepted, "
                f"got {allowed}")
        require(max_mib >= 1 and window >= 1, where, f"max_episode_mib and window must be >= 1, got {max_mib}, "
                                                     f"{window}")
        require_writable_dir(episode_dir, f"{where}: episode_dir")
        require_writable_dir(Path(journal).parent, f"{where}: journal")
        unkeyed = sorted(set(allowed) - set(key_files))
        require(not unkeyed, where, f"actor_keys has no key file for allowed actor(s) {unkeyed} (give ID=KEY_FILE "
                                    f"for each; python -m jsrl_ros.fleet.keys makes them)")
        keys = {a: read_key(key_files[a], f"{where}: actor_keys, actor {a}") for a in allowed}
        try:
            self.inbox: Inbox[EpisodeMeta] = Inbox(episode_dir, journal, keys, read_meta, max_mib * 2**20)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        self.counts = dict.fromkeys((*ACK_STATUSES, "unknown_actor", "unauthenticated", "dropped", "announced"), 0)
        self.latencies_s: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.waiting: deque[tuple[str, EpisodeMeta]] = deque(maxlen=MAX_WAITING)
        self.health = Health()
        self.ack_pub = self.create_publisher(UInt8MultiArray, topics.FLEET_ACKS, ACKS_QOS)
        self.bag_pub = self.create_publisher(String, topics.EPISODE_BAG, RELIABLE)
        self.summary_pub = self.create_publisher(JointState, topics.EPISODE_SUMMARY, RELIABLE)
        self.create_subscription(UInt8MultiArray, topics.FLEET_EPISODES, self.on_episode, episodes_qos(window))
        self.watch = GraphWatch(self, self.health)  # it plays the recorder's part: a second one is refused
        self.watch.own([topics.EPISODE_BAG, topics.EPISODE_SUMMARY])
        self.create_timer(0.5, self.announce)
        publish_counters(self, lambda: {**self.counts, "waiting": len(self.waiting), **self.latency()},
                         health=self.health)
        self.get_logger().info(f"episodes of actors {sorted(allowed)} from {topics.FLEET_EPISODES} into {episode_dir}")

    def on_episode(self, msg: UInt8MultiArray) -> None:
        try:
            received = self.inbox.receive(message_frame(msg))
        except UnknownActor as exc:
            self.counts["unknown_actor"] += 1
            self.health.alarm(UNKNOWN_ALARM, WARN, f"{self.counts['unknown_actor']} refused, last: {exc}")
            return self.get_logger().error(f"{topics.FLEET_EPISODES}: refused an episode: {exc}",
                                           throttle_duration_sec=2.0)
        except Unauthenticated as exc:  # an impostor using a known id, or an actor with the wrong key
            self.counts["unauthenticated"] += 1
            self.health.alarm(UNAUTHENTICATED_ALARM, WARN, f"{self.counts['unauthenticated']} refused, last: {exc}")
            return self.get_logger().error(f"{topics.FLEET_EPISODES}: refused an episode: {exc}",
                                           throttle_duration_sec=2.0)
        except MalformedFrame as exc:
            self.counts["dropped"] += 1
            return self.get_logger().warning(f"{topics.FLEET_EPISODES}: dropped a frame: {exc} "
                                             f"({self.counts['dropped']} dropped so far)", throttle_duration_sec=2.0)
        except OSError as exc:  # disk full: no ack, so the actor keeps it and sends it again
            self.counts["dropped"] += 1
            return self.get_logger().error(f"{topics.FLEET_EPISODES}: could not store an episode ({exc}); the "
                                           f"actor will re-send it", throttle_duration_sec=2.0)
        ack = received.ack
        self.ack_pub.publish(frame_message(self.inbox.signed(ack)))
        self.counts[ack.status] += 1
        if ack.status not in (STORED, DUPLICATE):
            self.get_logger().error(f"actor {ack.actor} {ack.episode}: {ack.status} (not trained on)")
        if received.bag is not None and received.checked is not None:
            self.latencies_s.append(max(0.0, time.time() - received.sent))
            self.waiting.append((str(received.bag), received.checked))
            self.announce()

    def latency(self) -> dict[str, float]:
        """The last stored episode's delivery latency, and the median and 99th percentile of the last ones."""
        ordered = sorted(self.latencies_s)
        if not ordered:
            return {"delivery_latency_s": 0.0, "delivery_latency_p50_s": 0.0, "delivery_latency_p99_s": 0.0}
        return {"delivery_latency_s": self.latencies_s[-1], "delivery_latency_p50_s": nearest_rank(ordered, 0.5),
                "delivery_latency_p99_s": nearest_rank(ordered, 0.99)}

    def announce(self) -> None:
        """Hand stored episodes to the learner and the curriculum manager, once someone listens."""
        while self.waiting and self.bag_pub.get_subscription_count() > 0:
            path, meta = self.waiting.popleft()
            self.bag_pub.publish(String(data=path))
            summary = [meta.episode, meta.guide_step, meta.evaluation, meta.total_return, meta.success, meta.length]
            self.summary_pub.publish(named_vector(EPISODE_SUMMARY_NAMES, summary,
                                                  StepClock(meta.dt).stamp(meta.episode, meta.length)))
            self.counts["announced"] += 1


def nearest_rank(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank: one of the values, no interpolation)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    return spin_node(EpisodeReceiver, argv)


if __name__ == "__main__":
    raise SystemExit(main())
