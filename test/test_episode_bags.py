"""Episode bags round-trip without ROS; only finished bags count as episodes."""
from __future__ import annotations

import json
from pathlib import Path

import minari
import numpy as np
import pytest
import yaml
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image, JointState

from jsrl_learning.buffers import Batch
from jsrl_learning.datasets import load_minari
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, STEP_NAMES
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.recording.bags_to_minari import main as bags_to_minari_main
from jsrl_ros.recording.episode_bags import (ACTION, IMAGE, INFO, PARTIAL_DIR, STATE, STEP, EpisodeBagError,
                                             EpisodeBagWriter, EpisodeMeta, controller_per_step, list_episode_bags,
                                             quarantine, read_episode, read_meta)

CLOCK = StepClock(0.1)
TOPICS = {INFO: "/jsrl/episode_info", STATE: "/jsrl/state", ACTION: "/jsrl/action", STEP: "/jsrl/step"}


def ns(episode: int, step: int) -> int:
    return stamp_key(CLOCK.stamp(episode, step))


def write_episode(root: Path, episode: int, length: int, image_encoding: str | None = None,
                  ended: str = "terminated", finish: bool = True) -> Path:
    """A synthetic episode: state t = [t, -t], reward 1 on the last step, images filled with t."""
    topics = {**TOPICS, IMAGE: "/jsrl/obs/image"} if image_encoding else TOPICS
    writer = EpisodeBagWriter(root, episode, topics)
    writer.write_vector(INFO, ns(episode, 0), EPISODE_INFO_NAMES, [episode, 2, 0])
    for t in range(length + 1):
        writer.write_vector(STATE, ns(episode, t), ["a", "b"], [t, -t])
        if image_encoding:
            channels = 1 if image_encoding == "mono8" else 3
            frame = np.zeros((6, 4, channels), np.uint8)
            frame[..., 0] = t
            writer.write_image(ns(episode, t), frame, image_encoding, frame_id="camera")
        if t < length:
            writer.write_vector(ACTION, ns(episode, t), ["dx", "gripper"], [0.1 * t, -1.0])
        if t > 0:
            last = t == length
            writer.write_vector(STEP, ns(episode, t), STEP_NAMES,
                                [episode, t, float(last), last and ended == "terminated", last and ended == "truncated",
                                 last])
    if not finish:
        return writer.abandon("test")
    meta = EpisodeMeta(episode=episode, guide_step=2, evaluation=False, success=True, length=length,
                       total_return=1.0, ended=ended, controller=controller_per_step(2, length), topics=topics,
                       dt=0.1, guide_type="scripted", seed=7)
    return writer.finish(meta)


def test_state_episode_round_trips_as_transitions(tmp_path: Path) -> None:
    bag = write_episode(tmp_path, 4, length=3)
    assert bag == tmp_path / "episode_000004"
    recorded = read_episode(bag)
    episode = recorded.episode
    np.testing.assert_array_equal(episode.obs, [[0, 0], [1, -1], [2, -2]])
    np.testing.assert_array_equal(episode.next_obs, [[1, -1], [2, -2], [3, -3]])
    assert episode.obs.dtype == np.float32 and episode.actions.dtype == np.float32
    np.testing.assert_allclose(episode.actions[:, 0], [0.0, 0.1, 0.2])
    assert episode.rewards.tolist() == [0, 0, 1] and episode.terminated.tolist() == [False, False, True]
    assert episode.controller == ["guide", "guide", "explorer"] and episode.guide_steps == 2
    assert recorded.meta.guide_type == "scripted" and recorded.meta.seed == 7
    assert episode.to_batch().terminals.tolist() == [0, 0, 1]


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_image_episode_reads_as_dict_of_rgb_and_proprio(tmp_path: Path, encoding: str) -> None:
    episode = read_episode(write_episode(tmp_path, 0, length=2, image_encoding=encoding)).episode
    assert list(episode.obs) == ["image", "proprio"]
    images = np.concatenate([episode.obs["image"], episode.next_obs["image"][-1:]])
    assert images.dtype == np.uint8 and images.shape == (3, 6, 4, 3)
    red = {"rgb8": 0, "bgr8": 2, "mono8": 0}[encoding]  # channel 0 was written; RGB position after conversion
    assert images[:, 0, 0, red].tolist() == [0, 1, 2]


def test_reset_ended_episode_is_truncated_at_its_last_outcome(tmp_path: Path) -> None:
    episode = read_episode(write_episode(tmp_path, 1, length=2, ended="reset")).episode
    assert episode.truncated.tolist() == [False, True] and not episode.terminated.any()
    assert episode.to_batch().terminals.tolist() == [0, 0]


def test_messages_read_back_in_rclpy(tmp_path: Path) -> None:
    """rosbags' CDR bytes are what ros2 bag play would hand to rclpy."""
    with Reader(write_episode(tmp_path, 2, length=1, image_encoding="rgb8")) as reader:
        msgs = [deserialize_message(raw, Image if c.msgtype.endswith("Image") else JointState)
                for c, _, raw in reader.messages()]
    states = [m for m in msgs if isinstance(m, JointState) and list(m.name) == ["a", "b"]]
    assert [list(m.position) for m in states] == [[0.0, 0.0], [1.0, -1.0]]
    images = [m for m in msgs if isinstance(m, Image)]
    assert len(images) == 2 and images[1].header.frame_id == "camera" and images[1].data[0] == 1


def test_only_finished_bags_are_listed_and_names_never_collide(tmp_path: Path) -> None:
    first = write_episode(tmp_path, 5, length=1)
    partial = write_episode(tmp_path, 6, length=1, finish=False)
    again = write_episode(tmp_path, 5, length=2)  # a restarted graph counting from the same id
    assert partial.parent == tmp_path / PARTIAL_DIR
    assert list_episode_bags(tmp_path) == [first, again] and again.name == "episode_000005_1"
    with pytest.raises(EpisodeBagError, match="partial episode"):
        read_meta(partial)


def test_missing_steps_and_bad_metadata_are_named(tmp_path: Path) -> None:
    writer = EpisodeBagWriter(tmp_path, 0, TOPICS)
    writer.write_vector(INFO, ns(0, 0), EPISODE_INFO_NAMES, [0, 0, 0])
    writer.write_vector(STATE, ns(0, 0), ["a"], [0.0])
    meta = EpisodeMeta(episode=0, guide_step=0, evaluation=False, success=False, length=1, total_return=0.0,
                       ended="truncated", controller=["explorer"], topics=TOPICS, dt=0.1)
    bag = writer.finish(meta)
    with pytest.raises(EpisodeBagError, match=r"/jsrl/state has no message for step\(s\) \[1\]"):
        read_episode(bag)
    with pytest.raises(EpisodeBagError, match="unknown jsrl_episode key"):
        EpisodeMeta.from_json('{"episode": 0, "colour": 1}', "x")


@pytest.fixture
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.mark.filterwarnings("ignore::UserWarning")  # Minari's "please add an author" notes
def test_converter_writes_a_minari_dataset_the_learner_loads(tmp_path: Path, minari_root: Path) -> None:
    bags = tmp_path / "bags"
    for episode, length in ((0, 2), (1, 3)):
        write_episode(bags, episode, length, image_encoding="rgb8")
    write_episode(bags, 2, 1, image_encoding="rgb8", finish=False)  # ignored
    assert bags_to_minari_main([str(bags), "grasp/recorded-v0"]) == 0
    dataset = minari.load_dataset("grasp/recorded-v0")
    assert dataset.total_episodes == 2 and dataset.total_steps == 5
    batch = load_minari("grasp/recorded-v0")
    expected = Batch.concatenate([read_episode(b).episode.to_batch() for b in list_episode_bags(bags)])
    for key in ("image", "proprio"):
        np.testing.assert_array_equal(batch.obs[key], expected.obs[key])
        np.testing.assert_array_equal(batch.next_obs[key], expected.next_obs[key])
    np.testing.assert_array_equal(batch.actions, expected.actions)
    assert batch.terminals.tolist() == [0, 1, 0, 0, 1]
    assert bags_to_minari_main([str(tmp_path / "nothing"), "grasp/none-v0"]) == 2


def test_a_stamp_outside_mcaps_range_is_refused_and_the_bag_still_closes(tmp_path: Path) -> None:
    """A negative stamp once reached the MCAP writer: OverflowError, then another one in close()."""
    writer = EpisodeBagWriter(tmp_path, 0, TOPICS)
    for stamp_ns in (-1, 2**63):
        with pytest.raises(ValueError, match="outside 0 .. 2\\^63"):
            writer.write_vector(STATE, stamp_ns, ["a"], [0.0])
    with pytest.raises(EpisodeBagError, match="partial episode"):
        read_meta(writer.abandon("test"))


def rewrite_meta(bag: Path, **changes) -> None:
    """Edit a finished bag's episode metadata in place, as a damaged or forged file would have it."""
    path = bag / "metadata.yaml"
    info = yaml.safe_load(path.read_text())
    custom = info["rosbag2_bagfile_information"]["custom_data"]
    custom["jsrl_episode"] = json.dumps({**json.loads(custom["jsrl_episode"]), **changes})
    path.write_text(yaml.safe_dump(info))


@pytest.mark.parametrize("changes, named", [
    ({"length": "abc"}, "length must be an int >= 1"), ({"length": 0}, "length must be an int >= 1"),
    ({"episode": -1}, "episode must be an int >= 0"), ({"guide_step": 1.5}, "guide_step must be an int"),
    ({"evaluation": "no"}, "evaluation must be true or false"), ({"total_return": None}, "total_return must be"),
    ({"ended": "exploded"}, "ended must be one of"), ({"controller": ["pilot"] * 3}, "controller must be"),
    ({"controller": ["guide"]}, "controller has 1 entries for length 3"), ({"dt": 0}, "dt must be"),
    ({"topics": {"state": "/s"}}, "topics has roles"), ({"label": 3}, "label must be"),
    ({"total_return": 7.0}, "total_return 7.0 is not the sum of its rewards"),
])
def test_metadata_of_the_wrong_type_or_range_is_an_error_naming_the_field(tmp_path: Path, changes, named) -> None:
    bag = write_episode(tmp_path, 0, length=3)
    rewrite_meta(bag, **changes)
    with pytest.raises(EpisodeBagError, match=named):
        read_episode(bag)


def test_non_finite_values_in_a_bag_are_an_error(tmp_path: Path) -> None:
    writer = EpisodeBagWriter(tmp_path, 0, TOPICS)
    writer.write_vector(INFO, ns(0, 0), EPISODE_INFO_NAMES, [0, 0, 0])
    for t, state in enumerate(([0.0, 1.0], [np.nan, 1.0])):
        writer.write_vector(STATE, ns(0, t), ["a", "b"], state)
    writer.write_vector(ACTION, ns(0, 0), ["dx"], [0.0])
    writer.write_vector(STEP, ns(0, 1), STEP_NAMES, [0, 1, 0, 0, 1, 0])
    bag = writer.finish(EpisodeMeta(episode=0, guide_step=0, evaluation=False, success=False, length=1,
                                    total_return=0.0, ended="truncated", controller=["explorer"], topics=TOPICS,
                                    dt=0.1))
    with pytest.raises(EpisodeBagError, match="non-finite state values"):
        read_episode(bag)


def test_quarantine_moves_a_bag_out_of_the_listing_and_only_from_the_episode_folder(tmp_path: Path) -> None:
    episodes = tmp_path / "episodes"
    bad, good = write_episode(episodes, 0, length=1), write_episode(episodes, 1, length=1)
    moved = quarantine(bad, episodes)
    assert moved == episodes / "quarantine" / "episode_000000" and (moved / "metadata.yaml").is_file()
    assert list_episode_bags(episodes) == [good]
    assert quarantine(write_episode(episodes, 0, length=1), episodes).name == "episode_000000_1"
    elsewhere = write_episode(tmp_path / "other", 0, length=1)
    for path in (elsewhere, episodes / PARTIAL_DIR, episodes / ".." / "other" / "episode_000000"):
        with pytest.raises(ValueError, match="is not a bag in"):
            quarantine(path, episodes)
    assert elsewhere.is_dir()
