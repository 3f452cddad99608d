"""The fleet's gateway nodes in one process: episodes reach the learner's topics once, weights reach actors;
each signed with its sender's key."""
from __future__ import annotations

import os
from pathlib import Path

from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.fleet.keys import LEARNER_KEY, LEARNER_PUBLIC_KEY, actor_key_name, make_key_dir
from jsrl_ros.nodes.episode_receiver import EpisodeReceiver
from jsrl_ros.nodes.episode_sender import EpisodeSender
from jsrl_ros.nodes.weights_broadcaster import WeightsBroadcaster
from jsrl_ros.nodes.weights_receiver import WeightsReceiver
from test_learner_node import write_bag


def overrides(**params) -> list[Parameter]:
    return [Parameter(k, value=v) for k, v in params.items()]


def sender(ros, root: Path, actor: int, keys: Path, namespace: str = "") -> EpisodeSender:
    params = overrides(actor_id=actor, episode_dir=str(root / "episodes"), outbox_dir=str(root / "outbox"),
                       ack_timeout=1.0, key_file=str(keys / actor_key_name(actor)))
    return ros.add(EpisodeSender(context=ros.context, namespace=namespace or f"actor_{actor}",
                                 parameter_overrides=params))


def receiver_of_actor_1(ros, root: Path, keys: Path) -> EpisodeReceiver:
    return ros.add(EpisodeReceiver(context=ros.context, parameter_overrides=overrides(
        allowed_actors=[1], episode_dir=str(root / "episodes"), journal=str(root / "fleet" / "inbox.log"),
        actor_keys=[f"1={keys / actor_key_name(1)}"])))


def test_episodes_arrive_once_and_unknown_actors_and_impostors_are_refused(ros, tmp_path: Path) -> None:
    actor1, stranger, learner, keys = tmp_path / "actor1", tmp_path / "actor9", tmp_path / "learner", tmp_path / "keys"
    impostor = tmp_path / "impostor"  # claims actor 1's id, but has a key of its own
    make_key_dir(keys, [1, 9])
    make_key_dir(impostor / "keys", [1])
    write_bag(actor1 / "episodes", 0)  # finished before the sender started: caught up
    write_bag(stranger / "episodes", 0)
    write_bag(impostor / "episodes", 5)
    probe = ros.node("probe")
    paths: list[str] = []
    summaries: list[list[float]] = []
    probe.create_subscription(String, "/jsrl/episode_bag", lambda m: paths.append(m.data), RELIABLE)
    probe.create_subscription(JointState, "/jsrl/episode_summary", lambda m: summaries.append(list(m.position)),
                              RELIABLE)
    announce = probe.create_publisher(String, "/actor_1/jsrl/episode_bag", RELIABLE)
    receiver = receiver_of_actor_1(ros, learner, keys)
    first, strange = sender(ros, actor1, 1, keys), sender(ros, stranger, 9, keys)
    fake = sender(ros, impostor, 1, impostor / "keys", namespace="impostor")
    assert ros.spin_until(lambda: len(paths) == 1 and receiver.counts["unknown_actor"] > 0
                          and receiver.counts["unauthenticated"] > 0, 30.0)
    announce.publish(String(data=str(write_bag(actor1 / "episodes", 1, evaluation=True))))
    assert ros.spin_until(lambda: len(paths) == len(summaries) == 2 and not first.outbox.pending, 30.0)
    assert paths == [str(learner / "episodes" / f"actor_1_episode_00000{i}") for i in range(2)]
    assert [s[0] for s in summaries] == [0.0, 1.0] and summaries[1][2] == 1.0  # episode ids, evaluation flag
    assert strange.outbox.pending == ["episode_000000"]  # never acknowledged: it keeps it
    assert fake.outbox.pending == ["episode_000005"] and fake.unauthenticated > 0  # the real actor 1's acks: not its
    assert first.unauthenticated == 0
    assert not (learner / "episodes" / "actor_9_episode_000000").exists()
    assert not (learner / "episodes" / "actor_1_episode_000005").exists()
    # the sender restarts and sends everything again: duplicates, acknowledged, not announced twice
    ros.remove(first)
    (actor1 / "outbox" / "acked.log").unlink()
    again = sender(ros, actor1, 1, keys)
    assert again.outbox.pending == ["episode_000000", "episode_000001"]
    assert ros.spin_until(lambda: not again.outbox.pending, 30.0)
    assert receiver.counts["duplicate"] == 2 and len(paths) == 2


def test_a_sender_blind_to_its_receiver_still_delivers_through_its_ack_timeout(ros, tmp_path: Path) -> None:
    """Presence only hurries a re-send: with both presence signals stuck at 0 (Fast DDS 3.2.3 can leave the
    matched count there while the receiver is matched, docs/fleet.md), every episode still arrives."""
    actor, learner, keys = tmp_path / "actor1", tmp_path / "learner", tmp_path / "keys"
    make_key_dir(keys, [1])
    write_bag(actor / "episodes", 0)
    blind = sender(ros, actor, 1, keys)
    blind.count_subscribers = lambda topic: 0
    blind.episodes_pub.get_subscription_count = lambda: 0
    assert ros.spin_until(lambda: blind.outbox.sent == 1, 10.0)  # sent before any receiver exists: lost
    receiver = receiver_of_actor_1(ros, learner, keys)
    assert ros.spin_until(lambda: not blind.outbox.pending, 30.0)
    assert receiver.counts["stored"] == 1 and blind.outbox.resent >= 1 and not blind.receiver_present


def test_weights_reach_actors_late_joiners_included(ros, tmp_path: Path) -> None:
    checkpoint = tmp_path / "learner" / "explorer.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(os.urandom(1_300_000))  # 3 chunks of 512 KiB
    params = {"chunk_kib": 512, "max_checkpoint_mib": 4}
    make_key_dir(tmp_path / "keys", [])
    learner_key, learner_public_key = (str(tmp_path / "keys" / name) for name in (LEARNER_KEY, LEARNER_PUBLIC_KEY))
    probe = ros.node("probe")
    announced: dict[str, list[str]] = {"actor_1": [], "actor_2": []}
    for actor, got in announced.items():
        probe.create_subscription(String, f"/{actor}/jsrl/checkpoint", got.append, LATCHED)
    probe.create_publisher(String, "/jsrl/checkpoint", LATCHED).publish(String(data=str(checkpoint)))
    broadcaster = ros.add(WeightsBroadcaster(context=ros.context, parameter_overrides=overrides(
        key_file=learner_key, **params)))

    def receiver(actor: str) -> WeightsReceiver:
        return ros.add(WeightsReceiver(context=ros.context, namespace=actor, parameter_overrides=overrides(
            checkpoint_path=str(tmp_path / actor / "explorer.pt"), learner_public_key_file=learner_public_key, **params)))

    receiver("actor_1")
    assert ros.spin_until(lambda: announced["actor_1"] and broadcaster.broadcasts == 1, 30.0)
    late = receiver("actor_2")  # joins after the broadcast: the latched chunks reach it
    assert ros.spin_until(lambda: bool(announced["actor_2"]), 30.0)
    for actor in announced:
        assert (tmp_path / actor / "explorer.pt").read_bytes() == checkpoint.read_bytes()
    assert late.assembly.counters.completed == 1 and broadcaster.chunks == 3
