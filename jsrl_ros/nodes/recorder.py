"""Recorder node: every episode of the graph becomes one rosbag2 (MCAP) bag, announced when closed.

Per-step messages are checked, joined by their exact step identity (the step clock's
stamp) and streamed into the episode's bag (``jsrl_ros/recording/episode_bags.py``). An episode is
finished when its ``jsrl/step`` says terminated or truncated and every message of every
transition has arrived; then the bag is moved into ``episode_dir`` and announced on
``jsrl/episode_bag``, with a summary on ``jsrl/episode_summary``. An episode that cannot
finish (the recorder stops, a message was lost, its bag could not be written) is left in
``episode_dir/.partial/`` and never announced: a partial episode is not an episode.

Stamps are checked once, at the edge (:class:`StepGate`): a stamp off the step clock's grid
or range is malformed, and only step 0 of the episode after the newest one may open a bag.
So a forged far-future or old stamp is dropped and counted and never reaches a writer, and
the open bags stay bounded. A jump further ahead (a bridge restarted alone, resuming at a
later episode id and re-sending its step) is followed once the gate resyncs to it.
See docs/recording.md.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from jsrl_learning.config import ConfigError
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, named_vector, named_vector_values
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES, LABELS, STEP_NAMES
from jsrl_ros.contract.qos import RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.recording.episode_assembly import EpisodeAssembly, Late, Repeated
from jsrl_ros.recording.episode_bags import ACTION, IMAGE, INFO, PARTIAL_DIR, STATE, STEP, EpisodeBagWriter
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import WARN, Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.step_gate import STALE, Rejected, StepGate
from jsrl_ros.runtime.writable import require_writable_dir

FIXED_NAMES = {INFO: EPISODE_INFO_NAMES, STEP: STEP_NAMES}
WRITE_ALARM = "episode bags"


class Recorder(CheckedNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("recorder", **node_kwargs)
        dt = self.declare_parameter("dt", 0.1).value
        episode_dir = self.declare_parameter("episode_dir", "episodes").value
        image_topic = self.declare_parameter("image_topic", topics.OBS_IMAGE).value
        self.guide_type = self.declare_parameter("guide_type", "").value
        self.seed = self.declare_parameter("seed", -1).value
        self.close_timeout = self.declare_parameter("close_timeout", 2.0).value
        where = f"{self.get_name()} parameters"
        try:
            self.clock = StepClock(dt)
        except ValueError as exc:
            raise ConfigError(f"{where}: dt: {exc}") from exc
        if not episode_dir:
            raise ConfigError(f"{where}: episode_dir must name the folder episode bags are written to")
        if not self.close_timeout > 0:
            raise ConfigError(f"{where}: close_timeout must be > 0 seconds, got {self.close_timeout}")
        self.dt, self.episode_dir = float(dt), Path(episode_dir)
        for folder in (self.episode_dir, self.episode_dir / PARTIAL_DIR):  # bags are written here, renamed there
            require_writable_dir(folder, f"{where}: episode_dir")
        # its episode: the newest one with a bag; its steps: those the clock can stamp (a summary is stamped (e, T))
        self.gate = StepGate(self.clock)
        self.health = Health()
        self.dropped = 0
        self.dropped_by_topic: Counter[str] = Counter()
        self.late = self.repeated = self.recorded = self.finished = self.incomplete = self.write_errors = 0
        self.episodes: dict[int, EpisodeAssembly] = {}
        self.writers: dict[int, EpisodeBagWriter] = {}
        self.activity: dict[int, float] = {}  # monotonic time of each open episode's last message
        self.closed: set[int] = set()
        self.failed: set[int] = set()  # episodes whose bag could not be written: their messages are dropped

        def vector_input(role: str, topic: str):
            return self.create_subscription(JointState, topic, lambda m: self.on_vector(role, m), RELIABLE)

        subscriptions = {INFO: vector_input(INFO, topics.EPISODE_INFO), STATE: vector_input(STATE, topics.STATE),
                         ACTION: vector_input(ACTION, topics.ACTION), STEP: vector_input(STEP, topics.STEP)}
        if image_topic:
            subscriptions[IMAGE] = self.create_subscription(Image, image_topic, self.on_image, SENSOR)
        self.topics = {role: sub.topic_name for role, sub in subscriptions.items()}
        self.create_subscription(String, topics.TELEOP_LABEL, self.on_label, RELIABLE)
        self.bag_pub = self.create_publisher(String, topics.EPISODE_BAG, RELIABLE)
        self.summary_pub = self.create_publisher(JointState, topics.EPISODE_SUMMARY, RELIABLE)
        self.watch = GraphWatch(self, self.health)  # a second recorder is refused
        self.watch.own([topics.EPISODE_BAG, topics.EPISODE_SUMMARY])
        self.create_timer(self.close_timeout / 2, self.close_stalled)
        publish_counters(self, lambda: {"dropped": self.dropped, "late": self.late, "repeated": self.repeated,
                                        "recorded": self.recorded, "finished": self.finished,
                                        "incomplete": self.incomplete, "write_errors": self.write_errors,
                                        "open": len(self.episodes)}, health=self.health)
        self.get_logger().info(f"recording {sorted(self.topics.values())} into {self.episode_dir}")

    # --- inputs ---------------------------------------------------------------------------

    def on_vector(self, role: str, msg: JointState) -> None:
        try:
            episode, step = self.gate.identity(msg.header.stamp)
            assembly = self.assembly(episode, msg.header.stamp)
            names = FIXED_NAMES.get(role) or list(msg.name)
            if not names:
                raise MalformedMessage("an empty vector (no names)")
            values = named_vector_values(msg, names)
            if role == INFO:
                self.check_info(values, episode, step)
            elif role == STEP:
                self.check_outcome(values, episode, step)
            assembly = self.admit(assembly, role, episode, step, tuple(names))
        except (MalformedMessage, Rejected) as exc:
            return self.drop(self.topics[role], exc)
        except (Late, Repeated) as exc:
            return self.skip(exc)
        stamp_ns = stamp_key(self.clock.stamp(episode, step))
        if not self.write(episode, lambda w: w.write_vector(role, stamp_ns, names, values, msg.header.frame_id)):
            return
        if role == INFO:
            assembly.add_info(int(values[1]), bool(values[2]))
        elif role == STEP:
            assembly.add_outcome(step, float(values[2]), *(bool(v) for v in values[3:]))
        self.try_finish(assembly)

    def on_image(self, msg: Image) -> None:
        try:
            episode, step = self.gate.identity(msg.header.stamp)
            assembly = self.assembly(episode, msg.header.stamp)
            image = image_to_numpy(msg)
            assembly = self.admit(assembly, IMAGE, episode, step, f"{msg.encoding} {image.shape} image")
        except (MalformedMessage, Rejected) as exc:
            return self.drop(self.topics[IMAGE], exc)
        except (Late, Repeated) as exc:
            return self.skip(exc)
        stamp_ns = stamp_key(self.clock.stamp(episode, step))
        if self.write(episode, lambda w: w.write_image(stamp_ns, image, msg.encoding, msg.header.frame_id)):
            self.try_finish(assembly)

    def on_label(self, msg: String) -> None:
        """A human's verdict applies to the newest open episode (it overrides the env's success flag)."""
        if msg.data not in LABELS:
            return self.drop(topics.TELEOP_LABEL, MalformedMessage(f"label {msg.data!r} is not one of {list(LABELS)}"))
        if not self.episodes:
            return self.drop(topics.TELEOP_LABEL, MalformedMessage(f"label {msg.data!r} arrived with no episode open"))
        newest = self.episodes[max(self.episodes)]
        newest.label = msg.data
        self.get_logger().info(f"episode {newest.episode} labelled {msg.data}")

    @staticmethod
    def check_info(values: np.ndarray, episode: int, step: int) -> None:
        if step != 0 or values[0] != episode:
            raise MalformedMessage(f"episode info stamped episode {episode} step {step} says episode {values[0]:g} "
                                   f"(it belongs to step 0 of its episode)")
        if values[1] < 0 or values[1] != int(values[1]) or values[2] not in (0.0, 1.0):
            raise MalformedMessage(f"guide_step {values[1]:g} must be a whole number >= 0, evaluation 0 or 1 "
                                   f"(got {values[2]:g})")

    @staticmethod
    def check_outcome(values: np.ndarray, episode: int, step: int) -> None:
        if step < 1 or values[0] != episode or values[1] != step:
            raise MalformedMessage(f"step outcome stamped episode {episode} step {step} says episode {values[0]:g} "
                                   f"step {values[1]:g} (outcomes are stamped t + 1 >= 1)")
        if not set(values[3:].tolist()) <= {0.0, 1.0}:
            raise MalformedMessage(f"terminated/truncated/success must be 0 or 1, got {values[3:].tolist()}")

    def assembly(self, episode: int, stamp: Time) -> EpisodeAssembly | None:
        """The open episode of a stamp; None if the stamp may open a new one (the gate's rule). Raises Late
        for a closed episode, Rejected for one whose bag failed and for what the gate rejects."""
        if episode in self.episodes:
            return self.episodes[episode]
        if episode in self.failed:
            raise Rejected(STALE, f"episode {episode} was dropped after a write error")
        if episode in self.closed:
            raise Late(f"episode {episode} is closed")
        self.gate.check(stamp)
        return None

    def admit(self, assembly: EpisodeAssembly | None, role: str, episode: int, step: int,
              message_format: Any) -> EpisodeAssembly:
        """The open episode a checked message belongs to, its bag opened if ``assembly`` is None.
        Raises Late/Repeated (skipped) or MalformedMessage (a format unlike the episode's)."""
        if assembly is None:
            assembly = self.open(episode)
        assembly.check_format(role, message_format)
        assembly.admit(role, step, message_format)
        self.activity[episode] = time.monotonic()
        return assembly

    def open(self, episode: int) -> EpisodeAssembly:
        """A new episode's bag; the gate follows the bridge into the episode even if the bag fails."""
        self.gate.enter(episode)
        try:
            writer = EpisodeBagWriter(self.episode_dir, episode, self.topics)
        except Exception as exc:  # noqa: BLE001 — a folder gone or full: this episode is lost, not the node
            self.write_failed(episode, exc)
            raise Rejected(STALE, f"episode {episode}: its bag could not be opened") from exc
        self.writers[episode] = writer
        self.episodes[episode] = EpisodeAssembly(episode, self.topics)
        return self.episodes[episode]

    def write(self, episode: int, write: Callable[[EpisodeBagWriter], None]) -> bool:
        """Run one write on the episode's bag; an error abandons that episode (False), never the node."""
        try:
            write(self.writers[episode])
        except Exception as exc:  # noqa: BLE001 — disk full, I/O error, a writer bug
            self.write_failed(episode, exc)
            return False
        self.recorded += 1
        return True

    def write_failed(self, episode: int, exc: Exception) -> None:
        self.write_errors += 1
        self.health.alarm(WRITE_ALARM, WARN, f"{self.write_errors} write error(s), last: episode {episode}: {exc}")
        self.get_logger().error(f"episode {episode}: cannot write its bag ({type(exc).__name__}: {exc}); "
                                f"dropped to {self.episode_dir / PARTIAL_DIR}")
        self.failed.add(episode)
        if episode in self.episodes:
            self.abandon(episode, f"write error: {exc}")

    def drop(self, topic: str, exc: Exception) -> None:
        self.dropped += 1
        self.dropped_by_topic[topic] += 1
        self.get_logger().warning(f"{topic}: dropped a message: {exc} ({self.dropped} dropped so far)",
                                  throttle_duration_sec=2.0)

    def skip(self, exc: Late | Repeated) -> None:
        """Expected, not malformed: a policy answering an episode's final observation, a re-published step."""
        if isinstance(exc, Late):
            self.late += 1
        else:
            self.repeated += 1

    # --- closing episodes -----------------------------------------------------------------

    def try_finish(self, assembly: EpisodeAssembly) -> None:
        length = assembly.finished_length()
        if length is not None:
            self.finish(assembly, length, assembly.end[1])

    def close_stalled(self) -> None:
        """Episodes that can no longer complete: ended by a reset (a newer episode began without
        their end), or ended with a message lost. Quiet for ``close_timeout``, so reordering
        between topics is never mistaken for either."""
        now = time.monotonic()
        for episode, assembly in list(self.episodes.items()):
            if now - self.activity[episode] < self.close_timeout or (assembly.end is None and
                                                                     episode == self.gate.episode):
                continue
            length = assembly.reset_length() if assembly.end is None else None
            if length is not None:
                self.finish(assembly, length, "reset")
            else:
                self.abandon(episode, "messages missing" if assembly.end else "ended before a complete transition")

    def finish(self, assembly: EpisodeAssembly, length: int, ended: str) -> None:
        episode = assembly.episode
        meta = assembly.meta(length, ended, self.topics, self.dt, self.guide_type, self.seed)
        try:
            path = self.writers[episode].finish(meta)
        except Exception as exc:  # noqa: BLE001 — the bag could not be closed or moved: left partial
            return self.write_failed(episode, exc)
        self.pop(episode)
        self.finished += 1
        self.health.clear(WRITE_ALARM)
        self.bag_pub.publish(String(data=str(path)))
        summary = [episode, meta.guide_step, meta.evaluation, meta.total_return, meta.success, length]
        self.summary_pub.publish(named_vector(EPISODE_SUMMARY_NAMES, summary, self.clock.stamp(episode, length)))
        self.get_logger().info(f"episode {episode} {ended} after {length} steps (success={meta.success}): {path}")

    def abandon(self, episode: int, reason: str) -> None:
        """Close the episode's bag in ``.partial/``; one that cannot even be closed stays there unreadable."""
        writer = self.pop(episode)
        self.incomplete += 1
        try:
            path = writer.abandon(reason)
        except Exception as exc:  # noqa: BLE001 — e.g. the error that failed a write fails the close again
            self.get_logger().error(f"episode {episode} not finished ({reason}); its bag {writer.partial_path} "
                                    f"could not be closed ({type(exc).__name__}: {exc})")
            return
        self.get_logger().warning(f"episode {episode} not finished ({reason}): left in {path}")

    def pop(self, episode: int) -> EpisodeBagWriter:
        del self.episodes[episode], self.activity[episode]
        self.closed.add(episode)
        return self.writers.pop(episode)

    def destroy_node(self) -> None:
        """Close open bags as partial, so even an interrupted episode's bag is readable for inspection."""
        for episode in list(self.episodes):
            self.abandon(episode, "recorder stopped mid-episode")
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return spin_node(Recorder, argv)


if __name__ == "__main__":
    raise SystemExit(main())
