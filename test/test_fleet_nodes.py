"""The fleet's gateway nodes in one process: episodes reach the learner's topics once, weights reach actors."""
from __future__ import annotations

import os
from pathlib import Path

from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.nodes.episode_receiver import EpisodeReceiver
from jsrl_ros.nodes.episode_sender import EpisodeSender
from jsrl_ros.nodes.weights_broadcaster import WeightsBroadcaster
from jsrl_ros.nodes.weights_receiver import WeightsReceiver
from test_learner_node import write_bag


def overrides(**params) -> list[Parameter]:
    return [Parameter(k, value=v) for k, v in params.items()]


def sender(ros, root: Path, actor: int) -> EpisodeSender:
    return ros.add(EpisodeSender(context=ros.context, namespace=f"actor_{actor}", parameter_overrides=overrides(
        actor_id=actor, episode_dir=str(root / "episodes"), outbox_dir=str(root / "outbox"), ack_timeout=1.0)))


def test_episodes_arrive_once_and_unknown_actors_are_refused(ros, tmp_path: Path) -> None:
    actor1, stranger, learner = tmp_path / "actor1", tmp_path / "actor9", tmp_path / "learner"
    write_bag(actor1 / "episodes", 0)  # finished before the sender started: caught up
    write_bag(stranger / "episodes", 0)
    probe = ros.node("probe")
    paths: list[str] = []
    summaries: list[list[float]] = []
    probe.create_subscription(String, "/jsrl/episode_bag", lambda m: paths.append(m.data), RELIABLE)
    probe.create_subscription(JointState, "/jsrl/episode_summary", lambda m: summaries.append(list(m.position)),
                              RELIABLE)
    announce = probe.create_publisher(String, "/actor_1/jsrl/episode_bag", RELIABLE)
    receiver = ros.add(EpisodeReceiver(context=ros.context, parameter_overrides=overrides(
        allowed_actors=[1], episode_dir=str(learner / "episodes"), journal=str(learner / "fleet" / "inbox.log"))))
    first, strange = sender(ros, actor1, 1), sender(ros, stranger, 9)
    assert ros.spin_until(lambda: len(paths) == 1 and receiver.counts["unknown_actor"] > 0, 30.0)
    announce.publish(String(data=str(write_bag(actor1 / "episodes", 1, evaluation=True))))
    assert ros.spin_until(lambda: len(paths) == len(summaries) == 2 and not first.outbox.pending, 30.0)
    assert paths == [str(learner / "episodes" / f"actor_1_episode_00000{i}") for i in range(2)]
    assert [s[0] for s in summaries] == [0.0, 1.0] and summaries[1][2] == 1.0  # episode ids, evaluation flag
    assert strange.outbox.pending == ["episode_000000"]  # never acknowledged: it keeps it
    assert not (learner / "episodes" / "actor_9_episode_000000").exists()
    # the sender restarts and sends everything again: duplicates, acknowledged, not announced twice
    ros.remove(first)
    (actor1 / "outbox" / "acked.log").unlink()
    again = sender(ros, actor1, 1)
    assert again.outbox.pending == ["episode_000000", "episode_000001"]
    assert ros.spin_until(lambda: not again.outbox.pending, 30.0)
    assert receiver.counts["duplicate"] == 2 and len(paths) == 2


def test_weights_reach_actors_late_joiners_included(ros, tmp_path: Path) -> None:
    checkpoint = tmp_path / "learner" / "explorer.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(os.urandom(1_300_000))  # 3 chunks of 512 KiB
    params = {"chunk_kib": 512, "max_checkpoint_mib": 4}
    probe = ros.node("probe")
    announced: dict[str, list[str]] = {"actor_1": [], "actor_2": []}
    for actor, got in announced.items():
        probe.create_subscription(String, f"/{actor}/jsrl/checkpoint", got.append, LATCHED)
    probe.create_publisher(String, "/jsrl/checkpoint", LATCHED).publish(String(data=str(checkpoint)))
    broadcaster = ros.add(WeightsBroadcaster(context=ros.context, parameter_overrides=overrides(**params)))

    def receiver(actor: str) -> WeightsReceiver:
        return ros.add(WeightsReceiver(context=ros.context, namespace=actor, parameter_overrides=overrides(
            checkpoint_path=str(tmp_path / actor / "explorer.pt"), **params)))

    receiver("actor_1")
    assert ros.spin_until(lambda: announced["actor_1"] and broadcaster.broadcasts == 1, 30.0)
    late = receiver("actor_2")  # joins after the broadcast: the latched chunks reach it
    assert ros.spin_until(lambda: bool(announced["actor_2"]), 30.0)
    for actor in announced:
        assert (tmp_path / actor / "explorer.pt").read_bytes() == checkpoint.read_bytes()
    assert late.assembly.counters.completed == 1 and broadcaster.chunks == 3
