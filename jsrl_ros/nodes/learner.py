"""Learner node: trains the explorer on the graph's episode bags, announces new weights as checkpoints.

Thin adapter over :class:`jsrl_learning.online.OnlineLearning` (the trainer's learning half):
episodes come in as rosbag2 files (``jsrl/episode_bag``; at start, every bag already in
``episode_dir``, so a restarted learner rebuilds its replay), go whole into the replay
(guide part too, as in Algorithm 1), and a worker thread trains continuously — one torch
thread, while the executor keeps taking announcements. Every ``checkpoint_every_updates`` updates
the explorer is written atomically to ``checkpoint_path`` and the path announced on the
latched ``jsrl/checkpoint``; on start it resumes from that file when it exists (else writes
the untrained, cold-start explorer), so the arbiter has an explorer at once.

``max_updates_per_step`` > 0 caps training at that many updates per ingested env step (the
trainer's ``updates_per_step``); 0 trains as fast as it can (QT-Opt's asynchronous trainers).
Evaluation episodes measure the policy and are not trained on (``train_on_evaluation``).
``timeouts_terminal``: a time-out ends bootstrapping (for envs whose observation holds the time).

A bad episode never stops training: a bag that cannot be read as an episode of this env
(metadata of the wrong type, non-finite values, actions outside the action space, shapes
that do not fit the replay) is counted (``dropped``), logged, and, if it lies in
``episode_dir``, moved to ``episode_dir/quarantine/`` so that no restart reads it again
(``quarantined``). Should the worker thread die all the same, the node reports ERROR on
``diagnostics`` (the bringup then stops the graph) instead of going on healthy and idle.
"""
from __future__ import annotations

import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from std_msgs.msg import String

from jsrl_learning.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from jsrl_learning.config import ConfigError, require
from jsrl_learning.datasets import DatasetError, load_dataset
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.learners import make_learner
from jsrl_learning.online import OnlineLearning
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.recording.episode_bags import RecordedEpisode, list_episode_bags, quarantine, read_episode
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import ERROR, Health, publish_counters
from jsrl_ros.runtime.env_params import declare_env, yaml_mapping
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.writable import require_writable_dir

LEARNERS = ("qtopt", "iql")
CHECKPOINT_KIND = "learner_node"
INBOX_SIZE = 1000  # announced bags waiting for the worker; a flood beyond it is dropped


class LearnerNode(CheckedNode):
    RENAMED_PARAMETERS = {"checkpoint_every": "checkpoint_every_updates"}

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("learner", **node_kwargs)
        where = f"{self.get_name()} parameters"
        env = declare_env(self, where)  # for its spaces only
        self.spaces = (env.observation_space, env.action_space)
        env.close()
        self.learner_name = self.declare_parameter("learner", "qtopt").value
        configs = {name: self.declare_parameter(f"{name}_config", "").value for name in LEARNERS}
        self.episode_dir = Path(self.declare_parameter("episode_dir", "episodes").value)
        self.checkpoint_path = Path(self.declare_parameter("checkpoint_path", "checkpoints/explorer.pt").value)
        self.checkpoint_every_updates = self.declare_parameter("checkpoint_every_updates", 200).value
        batch_size = self.declare_parameter("batch_size", 256).value
        capacity = self.declare_parameter("online_capacity", 100_000).value
        self.max_updates_per_step = self.declare_parameter("max_updates_per_step", 0.0).value
        offline_dataset = self.declare_parameter("offline_dataset", "").value
        online_fraction = self.declare_parameter("online_fraction", 0.75).value
        self.train_on_evaluation = self.declare_parameter("train_on_evaluation", False).value
        self.timeouts_terminal = self.declare_parameter("timeouts_terminal", False).value
        seed = self.declare_parameter("seed", 0).value
        require(self.learner_name in LEARNERS, where, f"learner must be one of {LEARNERS}, got {self.learner_name!r}")
        require(self.checkpoint_every_updates > 0, where,
                f"checkpoint_every_updates must be > 0, got {self.checkpoint_every_updates}")
        require(self.max_updates_per_step >= 0, where,
                f"max_updates_per_step must be >= 0 (0: no cap), got {self.max_updates_per_step}")
        require_writable_dir(self.checkpoint_path.parent, f"{where}: checkpoint_path")

        self.learner_config = yaml_mapping(configs[self.learner_name], f"{where}.{self.learner_name}_config")
        self.learner = make_learner(self.learner_name, self.learner_config, *self.spaces,
                                    f"{where}.{self.learner_name}_config")
        try:
            offline = load_dataset(offline_dataset) if offline_dataset else None
            self.learning = OnlineLearning(
                self.learner, *self.spaces, capacity=capacity, batch_size=batch_size,
                updates_per_step=self.max_updates_per_step, rng=np.random.default_rng(seed), offline=offline,
                online_fraction=online_fraction)
        except (DatasetError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        self.run_config = {**{k: self.get_parameter(k).value for k in ("env_id", "env_kwargs", "obs_mode")},
                           "learner": self.learner_name,
                           "learner_config": self.learner_config, "batch_size": batch_size,
                           "online_capacity": capacity, "max_updates_per_step": self.max_updates_per_step,
                           "offline_dataset": offline_dataset, "seed": seed,
                           "timeouts_terminal": self.timeouts_terminal}

        self.dropped = self.quarantined = self.skipped = self.episodes = self.env_steps = self.checkpoints = 0
        self.health = Health()
        self.metrics: dict[str, float] = {}
        self.ingested: set[Path] = set()
        self.inbox: queue.Queue[str] = queue.Queue(maxsize=INBOX_SIZE)
        self.checkpoint_pub = self.create_publisher(String, topics.CHECKPOINT, LATCHED)
        resumed = self._resume()
        self.next_checkpoint = self.learning.updates + self.checkpoint_every_updates
        self.create_subscription(String, topics.EPISODE_BAG, self.on_bag, RELIABLE)
        self.watch = GraphWatch(self, self.health)  # one recorder feeds it; a second learner is refused
        self.watch.expect(topics.EPISODE_BAG)
        self.watch.own([topics.CHECKPOINT])
        self._rate = (time.monotonic(), self.learning.updates, 0.0)
        publish_counters(self, self._counters, health=self.health)
        self.stop = threading.Event()
        self.worker = threading.Thread(target=self._work, args=(resumed,), name="learner", daemon=True)
        self.worker.start()
        env_id = self.get_parameter("env_id").value
        self.get_logger().info(f"{self.learner_name} on {env_id}: episodes from {self.episode_dir}, "
                               f"checkpoints to {self.checkpoint_path} every {self.checkpoint_every_updates} updates")

    # --- checkpoints ---------------------------------------------------------------------

    def _resume(self) -> int:
        """Load our own checkpoint if there is one (returns its update count), else write the cold start."""
        if not self.checkpoint_path.is_file():
            self._checkpoint()
            return 0
        try:
            state = load_checkpoint(self.checkpoint_path)
        except CheckpointError as exc:
            raise ConfigError(f"{self.get_name()}: cannot resume: {exc}") from exc
        policy = state.get("policy")
        saved = policy.get("learner_name") if isinstance(policy, dict) else None
        if state.get("kind") != CHECKPOINT_KIND or saved != self.learner_name:
            raise ConfigError(f"{self.checkpoint_path}: not a {self.learner_name} learner-node checkpoint "
                              f"(kind {state.get('kind')!r}, learner {saved!r}); move it away or change "
                              f"checkpoint_path")
        try:  # e.g. saved with other network sizes
            self.learner.load_state_dict(policy["learner"])
            self.learning.updates = int(state["updates"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"{self.checkpoint_path}: cannot resume from it ({type(exc).__name__}: {exc}); "
                              f"move it away or change checkpoint_path") from exc
        self.checkpoint_pub.publish(String(data=str(self.checkpoint_path)))
        self.get_logger().info(f"resumed from {self.checkpoint_path} at {self.learning.updates} updates")
        return self.learning.updates

    def _checkpoint(self) -> None:
        """Write the explorer atomically (trainer-compatible ``policy`` entry) and announce it."""
        state = {"kind": CHECKPOINT_KIND, "updates": self.learning.updates, "env_steps": self.env_steps,
                 "policy": policy_state(self.learner_name, self.learner_config, *self.spaces, self.learner)}
        save_checkpoint(self.checkpoint_path, state, self.run_config)
        self.checkpoints += 1
        self.checkpoint_pub.publish(String(data=str(self.checkpoint_path)))

    # --- episodes ------------------------------------------------------------------------

    def on_bag(self, msg: String) -> None:
        try:
            self.inbox.put_nowait(msg.data)
        except queue.Full:
            self._drop(msg.data, f"{INBOX_SIZE} announced bags are already waiting")

    def _ingest(self, path: str | Path) -> None:
        """Add one episode bag to the replay; a bad one is dropped (and quarantined), never raised."""
        try:
            bag = Path(path)
            key = bag.resolve()
            if key in self.ingested:
                return  # announced and also found in the folder at start
            recorded = read_episode(bag)
            self._check_actions(recorded)
            if recorded.meta.evaluation and not self.train_on_evaluation:
                self.skipped += 1
            else:
                self.learning.add(recorded.episode.to_batch(self.timeouts_terminal))
                self.episodes += 1
                self.env_steps += recorded.meta.length
        except Exception as exc:  # noqa: BLE001 — whatever is wrong with one file, training goes on
            self._drop(path, f"{type(exc).__name__}: {exc}")
            self._quarantine(path)
            return
        self.ingested.add(key)

    def _check_actions(self, recorded: RecordedEpisode) -> None:
        """Actions outside the action space never reach the replay (the arbiter never sends them)."""
        space = self.spaces[1]
        actions = recorded.episode.actions
        if not np.all((actions >= space.low) & (actions <= space.high)):
            raise ValueError(f"actions outside the action space [{space.low}, {space.high}]")

    def _drop(self, path: str | Path, reason: str) -> None:
        self.dropped += 1
        self.get_logger().warning(f"jsrl/episode_bag: dropped {path!r}: {reason} ({self.dropped} dropped so far)",
                                  throttle_duration_sec=2.0)

    def _quarantine(self, path: str | Path) -> None:
        """Move a bad bag of ``episode_dir`` aside, so that the next start does not read it again."""
        try:
            moved = quarantine(path, self.episode_dir)
        except ValueError:
            return  # not a bag of episode_dir (a path from a message): nothing of ours to move
        except OSError as exc:
            self.get_logger().error(f"could not quarantine {path!r} ({exc}): it will be dropped again at the next "
                                    f"start")
            return
        self.quarantined += 1
        self.get_logger().warning(f"moved the bad episode bag {path!r} to {moved}")

    # --- the training loop (worker thread) -------------------------------------------------

    def _work(self, resumed_updates: int) -> None:
        """The worker thread: trains until stopped. If it dies, the node says so on ``diagnostics``."""
        try:
            self._train(resumed_updates)
        except Exception as exc:  # noqa: BLE001 — a bug or a failing disk: the node must not look healthy
            self.health.alarm("training", ERROR, f"the training thread died: {type(exc).__name__}: {exc}")
            self.get_logger().fatal(f"the training thread died; no more updates or checkpoints:\n"
                                    f"{traceback.format_exc()}")

    def _train(self, resumed_updates: int) -> None:
        for bag in list_episode_bags(self.episode_dir):
            self._ingest(bag)
        # The replayed bags earned their updates before the restart: do not spend them twice.
        self.learning.credit = max(0.0, self.learning.credit - resumed_updates)
        while not self.stop.is_set():
            self._drain(block=False)
            before = self.learning.updates
            if self.max_updates_per_step > 0:
                metrics = self.learning.update(max_updates=1)
            else:
                metrics = ({f"train/{k}": v for k, v in self.learning.train_step().items()}
                           if self.learning.ready else {})
            if self.learning.updates == before:
                self._drain(block=True)  # nothing to learn from yet: wait for an episode
                continue
            self.metrics = metrics
            if self.learning.updates >= self.next_checkpoint:
                self._checkpoint()
                self.next_checkpoint = self.learning.updates + self.checkpoint_every_updates

    def _drain(self, block: bool) -> None:
        try:
            self._ingest(self.inbox.get(timeout=0.2) if block else self.inbox.get_nowait())
            while True:
                self._ingest(self.inbox.get_nowait())
        except queue.Empty:
            pass

    def _counters(self) -> dict[str, float]:
        now, updates = time.monotonic(), self.learning.updates
        last_time, last_updates, rate = self._rate
        if now > last_time:
            rate = (updates - last_updates) / (now - last_time)
        self._rate = (now, updates, rate)
        return {"updates": updates, "updates_per_s": rate, "episodes": self.episodes, "env_steps": self.env_steps,
                "replay": len(self.learning.replay), "checkpoints": self.checkpoints, "dropped": self.dropped,
                "quarantined": self.quarantined, "skipped_evaluation": self.skipped,
                **{k: v for k, v in self.metrics.items() if isinstance(v, float)}}

    def destroy_node(self) -> None:
        self.stop.set()
        self.worker.join(timeout=30.0)
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(1)  # processes, not threads, share the cores (docs/architecture.md)
    return spin_node(LearnerNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
