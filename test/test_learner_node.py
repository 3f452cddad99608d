"""The learner node over real rclpy: ingests episode bags (also those already on disk), trains,
announces atomically written checkpoints every K updates, and resumes from its own checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from std_msgs.msg import String

from jsrl_learning.checkpoint import load_checkpoint
from jsrl_learning.config import ConfigError
from jsrl_learning.guides import PolicyCheckpointGuide
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, STEP_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.contract.step_clock import StepClock, stamp_key
from jsrl_ros.contract.vectors import state_names
from jsrl_ros.nodes.learner import LearnerNode
from jsrl_ros.recording.episode_bags import (ACTION, INFO, STATE, STEP, EpisodeBagWriter, EpisodeMeta,
                                             controller_per_step, list_episode_bags)
from jsrl_ros.runtime.diagnostics import ERROR, OK, levels_of
from jsrl_ros.teleop_mapping import ACTION_NAMES

CLOCK = StepClock(0.1)
ENV_KWARGS = "{object_set: shapes, num_objects: 1, max_steps: 5}"
OBS_DIM = 6 + 8  # the grasping state vector with one object
TOPICS = {INFO: "/jsrl/episode_info", STATE: "/jsrl/state", ACTION: "/jsrl/action", STEP: "/jsrl/step"}
LENGTH = 3


def write_bag(root: Path, episode: int, evaluation: bool = False, actions: np.ndarray | None = None) -> Path:
    """An episode as the recorder writes it: LENGTH transitions of the grasping env's shapes."""
    rng = np.random.default_rng(episode)
    actions = rng.uniform(-1, 1, (LENGTH, 5)) if actions is None else actions
    writer = EpisodeBagWriter(root, episode, TOPICS)
    ns = lambda t: stamp_key(CLOCK.stamp(episode, t))  # noqa: E731
    writer.write_vector(INFO, ns(0), EPISODE_INFO_NAMES, [episode, 1, evaluation])
    for t in range(LENGTH + 1):
        writer.write_vector(STATE, ns(t), state_names(OBS_DIM), rng.uniform(-1, 1, OBS_DIM))
        if t < LENGTH:
            writer.write_vector(ACTION, ns(t), ACTION_NAMES, actions[t])
        if t > 0:
            last = t == LENGTH
            writer.write_vector(STEP, ns(t), STEP_NAMES, [episode, t, float(last), last, False, last])
    return writer.finish(EpisodeMeta(episode=episode, guide_step=1, evaluation=evaluation, success=True,
                                     length=LENGTH, total_return=1.0, ended="terminated",
                                     controller=controller_per_step(1, LENGTH), topics=TOPICS, dt=0.1))


def learner(ros, tmp_path: Path) -> LearnerNode:
    params = {"env_id": "jsrl_sim:jsrl/Grasp-v0", "env_kwargs": ENV_KWARGS, "learner": "qtopt",
              "qtopt_config": "{hidden: [8], cem: {n_samples: 8, n_iters: 1, n_elites: 2}}",
              "episode_dir": str(tmp_path / "episodes"), "checkpoint_path": str(tmp_path / "ckpt/explorer.pt"),
              "checkpoint_every_updates": 5, "batch_size": 4, "max_updates_per_step": 2.0}
    overrides = [Parameter(k, value=v) for k, v in params.items()]
    return ros.add(LearnerNode(context=ros.context, parameter_overrides=overrides))


def test_ingests_bags_trains_announces_checkpoints_and_resumes(ros, tmp_path: Path) -> None:
    episodes = tmp_path / "episodes"
    for episode in range(2):
        write_bag(episodes, episode)
    write_bag(episodes, 2, evaluation=True)
    announced: list[str] = []
    probe = ros.node("probe")
    probe.create_subscription(String, "jsrl/checkpoint", lambda m: announced.append(m.data), LATCHED)
    bags = probe.create_publisher(String, "jsrl/episode_bag", RELIABLE)

    node = learner(ros, tmp_path)
    # 2 training episodes x 3 steps x 2 updates per step = 12 updates; checkpoints at 5 and 10
    assert ros.spin_until(lambda: node.learning.updates == 12 and node.checkpoints == 3)
    assert node.episodes == 2 and node.skipped == 1 and len(node.learning.replay) == 6
    assert ros.spin_until(lambda: bags.get_subscription_count() == 1 and announced)

    new = write_bag(episodes, 3)
    for path in (str(new), str(tmp_path / "no_such_bag"), str(new)):  # a bad path, and a repeat
        bags.publish(String(data=path))
    assert ros.spin_until(lambda: node.learning.updates == 18 and node.dropped == 1)
    assert node.episodes == 3 and node.checkpoints == 4
    saved = load_checkpoint(tmp_path / "ckpt/explorer.pt")
    assert saved["updates"] == 15 and (tmp_path / "ckpt/config.yaml").is_file()
    assert announced[-1] == str(tmp_path / "ckpt/explorer.pt")
    guide = PolicyCheckpointGuide.load(tmp_path / "ckpt/explorer.pt")  # the trainer's policy format
    assert guide.act(np.zeros(OBS_DIM, np.float32)).shape == (5,)

    ros.remove(node)
    again = learner(ros, tmp_path)  # re-ingests the 3 training bags; 18 earned - 15 done = 3 more updates
    assert again.learning.updates >= 15
    assert ros.spin_until(lambda: again.learning.updates == 18 and again.episodes == 3)
    assert again.checkpoints == 0  # resumed: no cold-start checkpoint over the trained one


def spoil(bag: Path, **changes) -> Path:
    """Edit a finished bag's episode metadata in place (a damaged or hand-edited file)."""
    path = bag / "metadata.yaml"
    info = yaml.safe_load(path.read_text())
    custom = info["rosbag2_bagfile_information"]["custom_data"]
    custom["jsrl_episode"] = json.dumps({**json.loads(custom["jsrl_episode"]), **changes})
    path.write_text(yaml.safe_dump(info))
    return bag


def diagnostics_levels(ros) -> dict[str, tuple[int, str]]:
    levels: dict[str, tuple[int, str]] = {}
    ros.node("health").create_subscription(DiagnosticArray, "diagnostics", lambda m: levels.update(levels_of(m)),
                                           RELIABLE)
    return levels


def test_a_bad_bag_is_dropped_quarantined_and_training_goes_on(ros, tmp_path: Path) -> None:
    """``length: "abc"`` once killed the training thread silently, at every start while the bag stayed."""
    episodes = tmp_path / "episodes"
    write_bag(episodes, 0)
    spoil(write_bag(episodes, 1), length="abc")
    write_bag(episodes, 2, actions=np.full((LENGTH, 5), 7.0))  # outside the [-1, 1] action space
    write_bag(episodes, 3)
    levels = diagnostics_levels(ros)
    node = learner(ros, tmp_path)
    assert ros.spin_until(lambda: node.learning.updates == 12 and node.quarantined == 2)  # 2 good bags x 3 x 2
    assert node.dropped == 2 and list_episode_bags(episodes) == [episodes / "episode_000000",
                                                                 episodes / "episode_000003"]
    assert sorted(p.name for p in (episodes / "quarantine").iterdir()) == ["episode_000001", "episode_000002"]

    announce = ros.node("recorder").create_publisher(String, "jsrl/episode_bag", RELIABLE)
    assert ros.spin_until(lambda: announce.get_subscription_count() == 1)
    for path in (str(spoil(write_bag(episodes, 4), total_return=float("inf"))), "bad\x00path", str(tmp_path)):
        announce.publish(String(data=path))
    announce.publish(String(data=str(write_bag(episodes, 5))))
    assert ros.spin_until(lambda: node.learning.updates == 18 and node.dropped == 5 and node.quarantined == 3)
    assert tmp_path.is_dir() and ros.spin_until(lambda: levels.get("learner", (-1,))[0] == OK)

    ros.remove(node)
    again = learner(ros, tmp_path)  # the bad bags are out of the way: nothing to drop
    assert ros.spin_until(lambda: again.episodes == 3) and again.dropped == 0


def test_a_training_thread_that_dies_reports_error_on_diagnostics(ros, tmp_path: Path) -> None:
    levels = diagnostics_levels(ros)
    node = learner(ros, tmp_path)
    checkpoints = tmp_path / "ckpt"
    checkpoints.rename(tmp_path / "ckpt_away")
    checkpoints.write_text("")  # the next checkpoint cannot be written
    announce = ros.node("recorder").create_publisher(String, "jsrl/episode_bag", RELIABLE)
    assert ros.spin_until(lambda: announce.get_subscription_count() == 1)
    for episode in range(2):  # a batch's worth: training starts, and its first checkpoint fails
        announce.publish(String(data=str(write_bag(tmp_path / "episodes", episode))))
    assert ros.spin_until(lambda: levels.get("learner", (OK,))[0] == ERROR), levels
    assert "training thread died" in levels["learner"][1] and not node.worker.is_alive()


def test_an_unwritable_checkpoint_path_is_a_config_error_naming_it_at_start(ros, tmp_path: Path) -> None:
    (tmp_path / "ckpt").write_text("")  # a file where the checkpoint folder should be
    with pytest.raises(ConfigError, match=f"checkpoint_path: {tmp_path / 'ckpt'} is not a writable folder"):
        learner(ros, tmp_path)
