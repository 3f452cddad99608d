"""Recorder contract over real rclpy: the test plays bridge, arbiter and observation node."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import minari
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from jsrl_learning.buffers import Batch
from jsrl_learning.config import ConfigError
from jsrl_learning.datasets import load_minari
from jsrl_ros.contract.conversions import named_vector, numpy_to_image
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES, STEP_NAMES
from jsrl_ros.contract.qos import RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.nodes.recorder import Recorder
from jsrl_ros.recording.bags_to_minari import bags_to_minari
from jsrl_ros.recording.episode_bags import (ACTION, PARTIAL_DIR, EpisodeBagError, EpisodeBagWriter, list_episode_bags,
                                             read_episode, read_meta)
from jsrl_ros.runtime.diagnostics import WARN, levels_of

CLOCK = StepClock(0.1)
STATE_NAMES, ACTION_NAMES = ["x", "e"], ["dx", "gripper"]


class Graph:
    """Publishes what the bridge, the arbiter and the observation node would, and collects the recorder's output."""

    def __init__(self, ros, images: bool = True) -> None:
        self.ros, node = ros, ros.node("graph")
        self.info = node.create_publisher(JointState, "jsrl/episode_info", RELIABLE)
        self.state = node.create_publisher(JointState, "jsrl/state", RELIABLE)
        self.action = node.create_publisher(JointState, "jsrl/action", RELIABLE)
        self.step = node.create_publisher(JointState, "jsrl/step", RELIABLE)
        self.label = node.create_publisher(String, "teleop/label", RELIABLE)
        self.image = node.create_publisher(Image, "jsrl/obs/image", SENSOR) if images else None
        self.bags: list[str] = []
        self.summaries: list[list[float]] = []
        self.subscriptions = [
            node.create_subscription(String, "jsrl/episode_bag", lambda m: self.bags.append(m.data), RELIABLE),
            node.create_subscription(JointState, "jsrl/episode_summary", self.on_summary, RELIABLE)]
        self.publishers = [p for p in (self.info, self.state, self.action, self.step, self.label, self.image) if p]

    def on_summary(self, msg: JointState) -> None:
        assert list(msg.name) == list(EPISODE_SUMMARY_NAMES)
        assert CLOCK.identity(msg.header.stamp) == (msg.position[0], msg.position[5])
        self.summaries.append(list(msg.position))

    def connect(self, timeout_s: float = 10.0) -> None:
        assert self.ros.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in self.publishers) and
                                   all(s.get_publisher_count() >= 1 for s in self.subscriptions), timeout_s)

    def publish_step(self, e: int, t: int, length: int, *, guide_step: int = 1, evaluation: bool = False,
                     ended: str = "terminated", success: bool = True) -> int:
        """Every message of step t of episode e; returns how many were published."""
        stamp = CLOCK.stamp(e, t)
        msgs = [(self.state, named_vector(STATE_NAMES, [t, e], stamp))]
        if t == 0:
            msgs.append((self.info, named_vector(EPISODE_INFO_NAMES, [e, guide_step, evaluation], stamp)))
        if self.image:
            msgs.append((self.image, numpy_to_image(np.full((4, 4, 3), 10 * e + t, np.uint8), stamp)))
        if t > 0:
            last = t == length
            outcome = [e, t, float(last and success), last and ended == "terminated", last and ended == "truncated",
                       last and success]
            msgs.append((self.step, named_vector(STEP_NAMES, outcome, stamp)))
        if t < length:
            msgs.append((self.action, named_vector(ACTION_NAMES, [0.5 * (-1) ** t, -1.0], stamp)))
        for publisher, msg in msgs:
            publisher.publish(msg)
        return len(msgs)

    def play(self, recorder: Recorder | None, e: int, length: int, steps: int | None = None, **kw) -> None:
        """Steps 0 .. ``steps`` (default: the whole episode), waiting for the recorder after each."""
        for t in range((length if steps is None else steps) + 1):
            expected = (recorder.recorded if recorder else 0) + self.publish_step(e, t, length, **kw)
            if recorder:  # best-effort images: never outrun the recorder's queue
                assert self.ros.spin_until(lambda: recorder.recorded >= expected), (e, t, recorder.recorded)
            else:
                self.ros.spin_until(lambda: False, timeout_s=0.05)


def make_recorder(ros, episode_dir: Path, **params) -> Recorder:
    overrides = [Parameter("episode_dir", value=str(episode_dir)), Parameter("dt", value=0.1),
                 Parameter("guide_type", value="scripted"), Parameter("seed", value=3)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return ros.add(Recorder(context=ros.context, parameter_overrides=overrides))


@pytest.mark.filterwarnings("ignore::UserWarning")  # Minari's "please add an author" notes
def test_two_episodes_become_bags_a_minari_dataset_and_summaries(ros, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    episodes = tmp_path / "episodes"
    recorder = make_recorder(ros, episodes)
    graph = Graph(ros)
    graph.connect()
    graph.play(recorder, 0, length=3, guide_step=2)
    graph.label.publish(String(data="success"))  # the human's verdict on episode 1, which the env calls a failure
    graph.play(recorder, 1, length=2, evaluation=True, ended="truncated", success=False, guide_step=0)
    assert ros.spin_until(lambda: len(graph.bags) == 2 and len(graph.summaries) == 2)

    assert graph.bags == [str(episodes / "episode_000000"), str(episodes / "episode_000001")]
    assert list_episode_bags(episodes) == [Path(b) for b in graph.bags]
    # episode, guide_step, evaluation, return, success, length
    assert graph.summaries == [[0, 2, 0, 1, 1, 3], [1, 0, 1, 0, 1, 2]]
    with Reader(graph.bags[0]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts == {"/jsrl/episode_info": 1, "/jsrl/state": 4, "/jsrl/obs/image": 4, "/jsrl/action": 3,
                      "/jsrl/step": 3}

    first, second = (read_episode(b) for b in graph.bags)
    assert first.meta.controller == ["guide", "guide", "explorer"] and first.meta.ended == "terminated"
    assert (first.meta.guide_type, first.meta.seed, first.meta.label) == ("scripted", 3, "")
    assert second.meta.success and second.meta.label == "success" and second.meta.evaluation
    assert second.episode.truncated.tolist() == [False, True] and not second.episode.terminated.any()
    np.testing.assert_array_equal(first.episode.obs["proprio"][:, 0], [0, 1, 2])
    assert first.episode.next_obs["image"][:, 0, 0, 0].tolist() == [1, 2, 3]
    np.testing.assert_allclose(first.episode.actions, [[0.5, -1], [-0.5, -1], [0.5, -1]])

    bags_to_minari(episodes, "grasp/recorded-v0")
    dataset = minari.load_dataset("grasp/recorded-v0")
    assert dataset.total_episodes == 2 and dataset.total_steps == 5
    batch = load_minari("grasp/recorded-v0")
    expected = Batch.concatenate([first.episode.to_batch(), second.episode.to_batch()])
    np.testing.assert_array_equal(batch.obs["image"], expected.obs["image"])
    np.testing.assert_array_equal(batch.rewards, expected.rewards)
    assert batch.terminals.tolist() == [0, 0, 1, 0, 0]

    graph.play(recorder, 2, length=4, steps=1)  # stopped mid-episode: kept as partial, never announced
    ros.remove(recorder)
    assert list_episode_bags(episodes) == [Path(b) for b in graph.bags]
    with pytest.raises(EpisodeBagError, match="partial episode"):
        read_meta(episodes / PARTIAL_DIR / "episode_000002")


def malformed_inputs(graph: Graph) -> dict[str, list]:
    """Per recorder input, messages that must be dropped (once step 0 of episode 1 fixed its names and image
    format)."""
    stamp, off_grid = CLOCK.stamp(1, 1), CLOCK.stamp(1, 1)
    off_grid.nanosec += 1
    short_image = numpy_to_image(np.zeros((4, 4, 3), np.uint8), stamp)
    short_image.data = short_image.data[:-3]
    return {
        "/jsrl/state": [named_vector(STATE_NAMES, [np.nan, 0], stamp), named_vector(["x"], [1.0], stamp),
                        named_vector(STATE_NAMES, [1, 1], off_grid)],
        "/jsrl/obs/image": [short_image, numpy_to_image(np.zeros((5, 4, 3), np.uint8), stamp),
                            numpy_to_image(np.zeros((4, 4), np.uint8), stamp, encoding="mono8")],
        "/jsrl/action": [named_vector(ACTION_NAMES, [np.inf, 1], stamp), named_vector([], [], stamp)],
        "/jsrl/step": [named_vector(STEP_NAMES[:-1], [1, 1, 0, 0, 0], stamp),
                       named_vector(STEP_NAMES, [4, 1, 0, 0, 0, 0], stamp),  # says another episode
                       named_vector(STEP_NAMES, [1, 1, 0, 0.5, 0, 0], stamp),
                       named_vector(STEP_NAMES, [1, 0, 0, 0, 0, 0], CLOCK.stamp(1, 0))],  # outcomes start at t=1
        "/jsrl/episode_info": [named_vector(EPISODE_INFO_NAMES, [1, 1, 0], stamp),  # not at step 0
                               named_vector(EPISODE_INFO_NAMES, [1, -1, 0], CLOCK.stamp(1, 0))],
        "teleop/label": [String(data="maybe")],
    }


def test_malformed_inputs_are_dropped_and_counted_and_recording_goes_on(ros, tmp_path: Path) -> None:
    recorder = make_recorder(ros, tmp_path)
    graph = Graph(ros)
    graph.connect()
    graph.label.publish(String(data="success"))  # no episode open: dropped
    assert ros.spin_until(lambda: recorder.dropped == 1)
    graph.play(recorder, 0, length=1)
    graph.play(recorder, 1, length=2, steps=0)
    publisher = {"/jsrl/state": graph.state, "/jsrl/obs/image": graph.image, "/jsrl/action": graph.action,
                 "/jsrl/step": graph.step, "/jsrl/episode_info": graph.info, "teleop/label": graph.label}
    expected = {"teleop/label": 1}
    for topic, msgs in malformed_inputs(graph).items():
        for msg in msgs:
            publisher[topic].publish(msg)
            expected[topic] = expected.get(topic, 0) + 1
            assert ros.spin_until(lambda: recorder.dropped_by_topic == expected), (topic, recorder.dropped_by_topic)
    graph.publish_step(0, 1, length=1)  # episode 0 again, after its bag closed: late, not malformed
    for t in (1, 2):
        graph.publish_step(1, t, length=2)
    assert ros.spin_until(lambda: len(graph.bags) == 2)
    assert recorder.dropped == sum(expected.values()) and recorder.late == 3  # state, image, outcome
    assert read_episode(graph.bags[1]).episode.length == 2
    graph.publish_step(2, 0, length=1)  # the bridge re-publishes a step whose action was lost: idempotent
    sent = graph.publish_step(2, 0, length=1)
    assert ros.spin_until(lambda: recorder.repeated == sent)
    assert recorder.dropped == sum(expected.values())


def test_reset_cut_episodes_are_kept_and_episodes_with_lost_messages_are_not(ros, tmp_path: Path) -> None:
    recorder = make_recorder(ros, tmp_path, close_timeout=0.2, image_topic="")
    graph = Graph(ros, images=False)
    graph.connect()
    graph.play(recorder, 0, length=5, steps=2)  # the human pressed reset after two transitions ...
    graph.play(recorder, 1, length=2)  # ... and the bridge started episode 1
    assert ros.spin_until(lambda: len(graph.bags) == 2)
    assert sorted(graph.bags) == [str(tmp_path / "episode_000000"), str(tmp_path / "episode_000001")]
    cut = read_episode(tmp_path / "episode_000000")
    assert cut.meta.ended == "reset" and cut.episode.length == 2 and cut.episode.truncated.tolist() == [False, True]

    sent = recorder.recorded + graph.publish_step(2, 0, length=2) + graph.publish_step(2, 2, length=2)
    assert ros.spin_until(lambda: recorder.recorded == sent)  # step 1 of episode 2 was lost
    assert ros.spin_until(lambda: recorder.incomplete == 1)
    assert len(graph.bags) == 2 and list_episode_bags(tmp_path) == [tmp_path / "episode_000000",
                                                                   tmp_path / "episode_000001"]
    assert (tmp_path / PARTIAL_DIR / "episode_000002" / "metadata.yaml").is_file()


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_a_recorder_stopped_mid_episode_leaves_its_finished_bags_readable(ros, tmp_path: Path, stop) -> None:
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros.context.get_domain_id()),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    process = subprocess.Popen([sys.executable, "-m", "jsrl_ros.nodes.recorder", "--ros-args", "-p", "dt:=0.1",
                                "-p", f"episode_dir:={tmp_path}", "-p", "image_topic:=''"], env=env)
    try:
        graph = Graph(ros, images=False)
        graph.connect(timeout_s=60.0)  # the process starts in a few seconds on a busy machine
        graph.play(None, 0, length=2)
        assert ros.spin_until(lambda: len(graph.bags) == 1)
        graph.play(None, 1, length=4, steps=1)
        partial = tmp_path / PARTIAL_DIR / "episode_000001"
        assert ros.spin_until(partial.is_dir)
        process.send_signal(stop)
        assert process.wait(timeout=30) == (0 if stop == signal.SIGINT else -signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert list_episode_bags(tmp_path) == [tmp_path / "episode_000000"]
    assert read_episode(tmp_path / "episode_000000").episode.length == 2
    # Ctrl-C closes the open bag as a readable partial; a killed recorder leaves it without metadata.
    with pytest.raises(EpisodeBagError, match="partial episode" if stop == signal.SIGINT else "not a rosbag2 bag"):
        read_meta(partial)


def test_a_stamp_off_the_clocks_range_is_dropped_and_never_opens_a_bag(ros, tmp_path: Path) -> None:
    """Negative (once an OverflowError in the MCAP writer, then another in close), far-future and old
    stamps: dropped and counted; only the next episode may open a bag, so the open bags stay bounded."""
    recorder = make_recorder(ros, tmp_path, image_topic="")
    graph = Graph(ros, images=False)
    graph.connect()
    graph.play(recorder, 3, length=2, steps=1)  # episode 3 is running
    beyond_last_step = Time(sec=3 * 10_000 + 9_999, nanosec=4_000_000_000)  # nanosec past 1 s: step 100039
    one_past = Time(sec=3 * 10_000 + 9_999, nanosec=1_000_000_000)  # step 100000: the clock cannot stamp it
    forged = [(graph.action, named_vector(ACTION_NAMES, [0.5, -1.0], Time(sec=-10_000, nanosec=0))),
              (graph.state, named_vector(STATE_NAMES, [0, 0], Time(sec=-1, nanosec=900_000_000))),
              (graph.state, named_vector(STATE_NAMES, [0, 50], CLOCK.stamp(50, 0))),
              (graph.info, named_vector(EPISODE_INFO_NAMES, [50, 1, 0], CLOCK.stamp(50, 0))),
              (graph.state, named_vector(STATE_NAMES, [0, 214_748], CLOCK.stamp(214_748, 0))),
              (graph.state, named_vector(STATE_NAMES, [0, 4], CLOCK.stamp(4, 1))),  # the next episode, mid-way
              (graph.action, named_vector(ACTION_NAMES, [0.5, -1.0], beyond_last_step)),
              (graph.step, named_vector(STEP_NAMES, [3, 100_000, 0, 1, 0, 0], one_past)),
              (graph.state, named_vector(STATE_NAMES, [0, 1], CLOCK.stamp(1, 0)))]  # older than episode 3
    for publisher, msg in forged:
        publisher.publish(msg)
    assert ros.spin_until(lambda: recorder.dropped == len(forged)), recorder.dropped_by_topic
    assert list(recorder.episodes) == [3] and [p.name for p in (tmp_path / PARTIAL_DIR).iterdir()] == [
        "episode_000003"]
    sent = recorder.recorded + graph.publish_step(3, 2, length=2)  # the real episode goes on ...
    assert ros.spin_until(lambda: recorder.recorded == sent)
    graph.play(recorder, 4, length=1)  # ... and the next one with it
    assert ros.spin_until(lambda: len(graph.bags) == 2)
    assert [read_episode(b).episode.length for b in graph.bags] == [2, 1] and recorder.write_errors == 0


def test_a_restarted_bridge_resuming_further_ahead_is_followed_once_it_keeps_resending(ros, tmp_path) -> None:
    recorder = make_recorder(ros, tmp_path, image_topic="", close_timeout=1.0)
    graph = Graph(ros, images=False)
    graph.connect()
    graph.play(recorder, 0, length=3, steps=1)  # the bridge stops mid-episode; restarted, it resumes at
    for _ in range(20):  # episode 9, re-sending its first step until someone answers (action_timeout)
        graph.publish_step(9, 0, length=1)
        ros.spin_until(lambda: False, timeout_s=0.35)
    assert ros.spin_until(lambda: 9 in recorder.episodes) and recorder.dropped > 0
    sent = recorder.recorded + graph.publish_step(9, 1, length=1)
    assert ros.spin_until(lambda: len(graph.bags) == 2), recorder.recorded - sent
    assert sorted(graph.bags) == [str(tmp_path / "episode_000000"), str(tmp_path / "episode_000009")]
    assert read_meta(tmp_path / "episode_000000").ended == "reset"
    assert read_episode(tmp_path / "episode_000009").episode.length == 1


@pytest.mark.parametrize("fails", ["write", "open"])
def test_a_write_error_loses_that_episode_only(ros, tmp_path: Path, monkeypatch, fails: str) -> None:
    write_vector, init = EpisodeBagWriter.write_vector, EpisodeBagWriter.__init__

    def disk_full_at_episode_1_action(writer: EpisodeBagWriter, role: str, *args, **kwargs) -> None:
        if writer.name == "episode_000001" and role == ACTION:
            raise OSError(28, "No space left on device")
        write_vector(writer, role, *args, **kwargs)

    def disk_full_at_episode_1(writer: EpisodeBagWriter, episode_dir: Path, episode: int, *args) -> None:
        if episode == 1:
            raise OSError(28, "No space left on device")
        init(writer, episode_dir, episode, *args)

    if fails == "write":
        monkeypatch.setattr(EpisodeBagWriter, "write_vector", disk_full_at_episode_1_action)
    else:
        monkeypatch.setattr(EpisodeBagWriter, "__init__", disk_full_at_episode_1)
    recorder = make_recorder(ros, tmp_path, image_topic="")
    graph = Graph(ros, images=False)
    levels: list[int] = []
    graph.ros.node("health").create_subscription(
        DiagnosticArray, "diagnostics", lambda m: levels.extend(levels_of(m).get("recorder", (0, ""))[:1]), RELIABLE)
    graph.connect()
    graph.play(recorder, 0, length=1)
    graph.play(None, 1, length=2)  # the rest of episode 1 is dropped
    assert ros.spin_until(lambda: recorder.write_errors == 1 and recorder.dropped >= 3 and WARN in levels)
    graph.play(recorder, 2, length=1)
    assert ros.spin_until(lambda: len(graph.bags) == 2)
    assert graph.bags == [str(tmp_path / "episode_000000"), str(tmp_path / "episode_000002")]
    if fails == "write":
        assert recorder.incomplete == 1
        with pytest.raises(EpisodeBagError, match="partial episode .write error: .*No space left"):
            read_meta(tmp_path / PARTIAL_DIR / "episode_000001")


def test_an_unwritable_episode_dir_is_a_config_error_naming_it_at_start(ros, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=f"episode_dir: {blocker / 'episodes'} is not a writable folder"):
        make_recorder(ros, blocker / "episodes")
