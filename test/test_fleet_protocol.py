"""The fleet's rclpy-free protocol: wire frames, the actor's outbox, the learner's inbox, weight chunks, keys."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jsrl_learning.config import ConfigError
from jsrl_ros.fleet.chunks import Reassembly, split
from jsrl_ros.fleet.inbox import Inbox
from jsrl_ros.fleet.keys import KEY_BYTES, make_key_dir, parse_actor_keys, read_key, read_public_key, write_key
from jsrl_ros.fleet.outbox import Outbox
from jsrl_ros.fleet.seals import SharedKey, SigningKey, VerifyKey, public_key_of
from jsrl_ros.fleet.wire import (CONFLICT, DUPLICATE, REJECTED, STORED, Ack, MalformedFrame,
                                 Unauthenticated, UnknownActor, decode_ack, decode_chunk, decode_episode, encode,
                                 encode_ack, encode_episode)

#: each actor's secret (the learner holds them all), and the learner's private key (its seed) and public key
KEYS = {actor: bytes([actor]) * KEY_BYTES for actor in (1, 2, 3)}
LEARNER_SEED = b"L" * KEY_BYTES
LEARNER, LEARNER_PUBLIC = SigningKey(LEARNER_SEED), VerifyKey(public_key_of(LEARNER_SEED))
MAC_BYTES = SharedKey.tag_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_bag(root: Path, name: str, payload: bytes = b"steps") -> Path:
    bag = root / name
    bag.mkdir(parents=True)
    (bag / "metadata.yaml").write_text(f"episode: {name}\n")
    (bag / f"{name}.mcap").write_bytes(payload)
    return bag


def accept_any(bag: Path) -> str:
    return (bag / "metadata.yaml").read_text()


def refuse(bag: Path) -> str:
    raise ValueError(f"{bag}: not an episode")


# --- wire ---------------------------------------------------------------------------------

def test_frames_round_trip_and_every_header_field_is_checked(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox", actor=3, key=KEYS[3])
    outbox.add(make_bag(tmp_path / "episodes", "episode_000001", b"x" * 1000))
    header, body = decode_episode(outbox.frame("episode_000001"), KEYS)
    assert (header.actor, header.episode, dict(header.files)) == (3, "episode_000001",
                                                                  {"episode_000001.mcap": 1000, "metadata.yaml": 24})
    assert header.sha256 == hashlib.sha256(body).hexdigest()
    ack = Ack(3, "episode_000001", header.sha256, STORED)
    assert decode_ack(encode_ack(ack, KEYS[3]), KEYS) == ack

    good = {"kind": "ack", "actor": 3, "episode": "episode_000001", "sha256": header.sha256, "status": "stored"}
    bad_headers = [{**good, "actor": True}, {**good, "actor": -1}, {**good, "actor": 1.0},
                   {**good, "episode": "../etc"}, {**good, "status": "maybe"}, {**good, "extra": 1},
                   {k: v for k, v in good.items() if k != "status"}, {**good, "kind": "episode"}]
    for bad in bad_headers:
        with pytest.raises(MalformedFrame):
            decode_ack(encode(bad, b"", SharedKey(KEYS[3])), KEYS)
    frame = encode(good, b"", SharedKey(KEYS[3]))
    with pytest.raises(MalformedFrame, match="version 1, this node speaks version 3.*update them together"):
        decode_ack(frame[:4] + b"\x01" + frame[5:], KEYS)
    for broken in (b"", frame[:7], b"XXXX" + frame[4:], frame[:4] + b"\x04" + frame[5:],
                   frame[:5] + b"\xff\xff\xff\xff" + frame[9:], frame[:9] + b"[" + frame[10:], frame + b"body",
                   frame[:5] + len(b'{"kind":NaN}').to_bytes(4, "big") + b'{"kind":NaN}'):
        with pytest.raises(MalformedFrame):
            decode_ack(broken, KEYS)


def test_an_episode_frame_whose_body_is_cut_short_is_malformed(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox", actor=1, key=KEYS[1])
    outbox.add(make_bag(tmp_path / "episodes", "episode_000004"))
    frame = outbox.frame("episode_000004")
    header, body = decode_episode(frame, KEYS)
    cut = encode({"kind": "episode", "actor": 1, "episode": header.episode, "sha256": header.sha256, "sent": 1.0,
                  "files": [list(f) for f in header.files]}, bytes(body[:-1]), SharedKey(KEYS[1]))  # signed, but cut short
    with pytest.raises(MalformedFrame, match="truncated"):
        decode_episode(cut, KEYS)
    for field, value in (("files", [["../x", 5]]), ("files", [["a", 1], ["a", 1]]), ("sha256", "ABC"),
                         ("sent", "now")):
        header, body = decode_episode(frame, KEYS)
        raw = {"kind": "episode", "actor": 1, "episode": header.episode, "files": [list(f) for f in header.files],
               "sha256": header.sha256, "sent": 1.0, field: value}
        with pytest.raises(MalformedFrame, match=field):
            decode_episode(encode(raw, bytes(body), SharedKey(KEYS[1])), KEYS)


# --- authentication -----------------------------------------------------------------------

def test_an_episode_must_carry_its_actors_mac(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox", actor=2, key=KEYS[2])
    outbox.add(make_bag(tmp_path / "episodes", "episode_000000", b"e" * 300))
    frame = outbox.frame("episode_000000")
    impostor = Outbox(tmp_path / "impostor", actor=2, key=b"\x07" * KEY_BYTES)  # a known id, not its key
    impostor.add(make_bag(tmp_path / "impostor_episodes", "episode_000001"))
    tampered = bytearray(frame)
    tampered[-MAC_BYTES - 1] ^= 0xFF  # a body byte: the sha256 in the header would catch it, the MAC does first
    unsigned = frame[:-MAC_BYTES]  # its body's last 32 bytes are read as the (wrong) MAC
    inbox = learner_inbox(tmp_path)
    for forged in (impostor.frame("episode_000001"), bytes(tampered), unsigned, frame[:-1]):
        with pytest.raises(Unauthenticated, match="tag does not match"):
            inbox.receive(forged)
    with pytest.raises(UnknownActor, match="actor 2"):  # unknown ids are refused before any key is tried
        learner_inbox(tmp_path, allowed=(1,)).receive(frame)
    episodes = tmp_path / "learner" / "episodes"
    assert [p.name for p in episodes.iterdir()] == [".incoming"]
    assert not (tmp_path / "learner" / "fleet" / "inbox.log").exists()  # nothing journalled, nothing acked
    assert inbox.receive(frame).ack.status == STORED  # the genuine frame still gets in


def test_acks_are_signed_with_the_actors_key_and_bound_to_the_episodes_bytes(tmp_path: Path, actor) -> None:
    _, outbox = actor
    outbox.add(make_bag(tmp_path / "actor" / "episodes", "episode_000000", b"first life"))
    inbox = learner_inbox(tmp_path, allowed=(2, 3))
    ack = inbox.receive(outbox.frame("episode_000000")).ack
    signed = inbox.signed(ack)
    assert decode_ack(signed, {2: KEYS[2]}) == ack
    with pytest.raises(UnknownActor):  # actor 3 skips actor 2's acks without trying a key
        decode_ack(signed, {3: KEYS[3]})
    for forged in (encode_ack(ack, LEARNER_SEED), encode_ack(ack, KEYS[3])):
        with pytest.raises(Unauthenticated, match="tag does not match"):  # only the learner (and the actor) sign
            decode_ack(forged, {2: KEYS[2]})
    for unsigned in (signed[:-1], signed[:-MAC_BYTES]):
        with pytest.raises(Unauthenticated, match="no tag"):
            decode_ack(unsigned, {2: KEYS[2]})
    assert outbox.acknowledge(decode_ack(signed, {2: KEYS[2]}))

    # The actor's disk is wiped and episode ids start again: the old ack, replayed, settles nothing.
    wiped = Outbox(tmp_path / "wiped" / "outbox", actor=2, key=KEYS[2])
    wiped.add(make_bag(tmp_path / "wiped" / "episodes", "episode_000000", b"second life"))
    assert not wiped.acknowledge(decode_ack(signed, {2: KEYS[2]}))
    assert wiped.pending == ["episode_000000"]
    assert wiped.acknowledge(Ack(2, "episode_000000", wiped.digests["episode_000000"], STORED))


def test_weights_must_be_signed_with_the_learners_private_key() -> None:
    data = b"w" * 2500
    assembly = Reassembly(LEARNER_PUBLIC)
    forgeries = [*split(data, 9, 1000, SigningKey(KEYS[1])),  # an actor's secret is not the learner's key
                 *(frame[:-64] + SharedKey(LEARNER_SEED).sign(frame[:-64]) * 2  # an HMAC in a signature's place
                   for frame in split(data, 9, 1000, LEARNER))]
    for forged in forgeries:
        with pytest.raises(Unauthenticated):
            assembly.add(forged)
    assert assembly.counters.chunks == 0 and assembly.partial is None
    results = [assembly.add(f) for f in split(data, 9, 1000, LEARNER)]
    assert results[-1][1] == data
    with pytest.raises(AttributeError):  # what an actor holds checks weights and cannot sign them
        split(data, 10, 1000, LEARNER_PUBLIC)


def test_key_files_are_made_private_and_read_with_errors_naming_the_file(tmp_path: Path) -> None:
    made = make_key_dir(tmp_path / "keys", [1, 2])
    secrets, public = made[:3], made[3]
    assert [p.name for p in made] == ["learner.key", "actor_1.key", "actor_2.key", "learner.pub"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in secrets) and public.stat().st_mode & 0o777 == 0o644
    assert len(read_key(made[0], "key_file")) == KEY_BYTES and read_key(made[0], "x") != read_key(made[1], "x")
    assert read_public_key(public, "x") == public_key_of(read_key(made[0], "x"))
    with pytest.raises(ConfigError, match="learner_public_key_file: .*learner.key is the learner's private key.*"
                                          "learner.pub"):
        read_public_key(made[0], "learner_public_key_file")
    assert make_key_dir(tmp_path / "keys", [1, 2, 3]) == [tmp_path / "keys" / "actor_3.key"]  # none replaced
    public.unlink()  # a key folder from before the key pair: the public key is derived from the private one
    assert make_key_dir(tmp_path / "keys", [1]) == [public] and read_public_key(public, "x") == public_key_of(
        read_key(made[0], "x"))
    with pytest.raises(FileExistsError):
        write_key(made[0])
    with pytest.raises(ConfigError, match="key_file: key file .*actor_9.key' not found"):
        read_key(tmp_path / "keys" / "actor_9.key", "key_file")
    (tmp_path / "keys" / "actor_1.key").chmod(0o644)
    with pytest.raises(ConfigError, match="mode 644.*chmod 600"):
        read_key(tmp_path / "keys" / "actor_1.key", "key_file")
    short = tmp_path / "short.key"
    short.write_text("abcd\n")
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="short.key does not hold 64"):
        read_key(short, "key_file")
    assert parse_actor_keys(["1=a.key", "2 = b.key"], "actor_keys") == {1: Path("a.key"), 2: Path("b.key")}
    for bad in (["1"], ["x=a.key"], ["1=a.key", "1=b.key"], ["1="]):
        with pytest.raises(ConfigError, match="actor_keys"):
            parse_actor_keys(bad, "actor_keys")


# --- outbox + inbox -----------------------------------------------------------------------

@pytest.fixture
def actor(tmp_path: Path):
    clock = Clock()
    return clock, Outbox(tmp_path / "actor" / "outbox", actor=2, key=KEYS[2], ack_timeout=10.0, window=2, clock=clock)


def learner_inbox(tmp_path: Path, allowed=(2,), check=accept_any) -> Inbox:
    return Inbox(tmp_path / "learner" / "episodes", tmp_path / "learner" / "fleet" / "inbox.log",
                 {a: KEYS[a] for a in allowed}, check)


def test_an_episode_is_stored_once_and_a_duplicate_is_acknowledged_again(tmp_path: Path, actor) -> None:
    _, outbox = actor
    outbox.add(make_bag(tmp_path / "actor" / "episodes", "episode_000000"))
    inbox = learner_inbox(tmp_path)
    frame = outbox.frame("episode_000000")
    first = inbox.receive(frame)
    digest = decode_episode(frame, KEYS)[0].sha256
    assert first.ack == Ack(2, "episode_000000", digest, STORED)
    assert first.bag == tmp_path / "learner" / "episodes" / "actor_2_episode_000000"
    assert first.checked == "episode: episode_000000\n"
    assert sorted(p.name for p in first.bag.iterdir()) == ["episode_000000.mcap", "metadata.yaml"]
    again = inbox.receive(frame)
    assert again.ack.status == DUPLICATE and again.bag is None
    # after a learner restart too: the journal remembers
    assert learner_inbox(tmp_path).receive(frame).ack.status == DUPLICATE
    assert outbox.acknowledge(first.ack) and not outbox.pending
    assert not outbox.acknowledge(again.ack)  # a repeated ack settles nothing


def test_the_inbox_rejects_strangers_bad_hashes_and_non_episodes_whole(tmp_path: Path, actor) -> None:
    _, outbox = actor
    outbox.add(make_bag(tmp_path / "actor" / "episodes", "episode_000000", b"abc" * 100))
    frame = outbox.frame("episode_000000")
    with pytest.raises(UnknownActor, match="actor 2"):
        learner_inbox(tmp_path, allowed=(1, 3)).receive(frame)
    header, body = decode_episode(frame, KEYS)
    corrupt = bytearray(body)
    corrupt[-1] ^= 0xFF  # corrupted before it was signed (on the actor's disk): the MAC holds, the hash does not
    inbox = learner_inbox(tmp_path)
    with pytest.raises(MalformedFrame, match="sha256"):
        inbox.receive(encode_episode(header, bytes(corrupt), KEYS[2]))
    with pytest.raises(Unauthenticated):  # cut short: its MAC is gone with its tail
        inbox.receive(frame[:-10])
    episodes = tmp_path / "learner" / "episodes"
    assert [p.name for p in episodes.iterdir()] == [".incoming"] and not any((episodes / ".incoming").iterdir())
    refusing = learner_inbox(tmp_path, check=refuse)
    assert refusing.receive(frame).ack.status == REJECTED
    assert refusing.receive(frame).ack.status == REJECTED  # the same answer to a re-send, nothing stored
    assert [p.name for p in episodes.iterdir()] == [".incoming"]


def test_an_episode_id_reused_with_other_bytes_is_a_conflict(tmp_path: Path) -> None:
    inbox = learner_inbox(tmp_path)
    first = Outbox(tmp_path / "a" / "outbox", actor=2, key=KEYS[2])
    first.add(make_bag(tmp_path / "a" / "episodes", "episode_000000", b"one"))
    assert inbox.receive(first.frame("episode_000000")).ack.status == STORED
    wiped = Outbox(tmp_path / "b" / "outbox", actor=2, key=KEYS[2])  # the actor's disk was wiped: ids start again
    wiped.add(make_bag(tmp_path / "b" / "episodes", "episode_000000", b"two"))
    ack = inbox.receive(wiped.frame("episode_000000")).ack
    assert ack.status == CONFLICT
    assert wiped.acknowledge(ack) and not wiped.pending
    assert (tmp_path / "b" / "outbox" / "rejected" / "episode_000000.why").read_text() == "conflict\n"


def test_unacknowledged_episodes_are_resent_after_the_timeout_within_the_window(tmp_path: Path, actor) -> None:
    clock, outbox = actor
    for i in range(3):
        outbox.add(make_bag(tmp_path / "actor" / "episodes", f"episode_00000{i}"))
    assert outbox.due() == ["episode_000000", "episode_000001"]  # window 2
    for name in outbox.due():
        outbox.frame(name)
    assert outbox.due() == []
    clock.now = 9.9
    assert outbox.due() == []
    clock.now = 10.0  # no ack came: sent again (and the third waits for a free slot)
    assert outbox.due() == ["episode_000000", "episode_000001"]
    outbox.acknowledge(Ack(2, "episode_000000", outbox.digests["episode_000000"], STORED))
    outbox.frame("episode_000001")
    assert outbox.due() == ["episode_000002"]
    outbox.resend_all()
    assert outbox.due() == ["episode_000001", "episode_000002"]
    assert (outbox.sent, outbox.resent, outbox.acks) == (2, 1, 1)
    assert outbox.acknowledge(Ack(1, "episode_000001", outbox.digests["episode_000001"], STORED)) is False  # another's


def test_the_outbox_survives_a_restart_and_catches_up_with_bags_it_never_saw(tmp_path: Path) -> None:
    episodes = tmp_path / "actor" / "episodes"
    outbox = Outbox(tmp_path / "outbox", actor=2, key=KEYS[2])
    bags = [make_bag(episodes, f"episode_00000{i}") for i in range(3)]
    outbox.add(bags[0])
    outbox.add(bags[1])
    outbox.acknowledge(Ack(2, "episode_000000", outbox.digests["episode_000000"], STORED))
    with open(tmp_path / "outbox" / "acked.log", "a") as f:
        f.write("episode_0000")  # a line cut by a crash
    restarted = Outbox(tmp_path / "outbox", actor=2, key=KEYS[2])
    assert restarted.pending == ["episode_000001"]
    assert restarted.catch_up(bags) == ["episode_000002"]  # finished while no sender ran
    assert restarted.pending == ["episode_000001", "episode_000002"]
    inbox = learner_inbox(tmp_path)
    for name in restarted.pending:
        assert inbox.receive(restarted.frame(name)).ack.status == STORED


def test_a_frame_corrupted_on_the_actors_disk_is_set_aside_not_sent(tmp_path: Path, actor) -> None:
    _, outbox = actor
    outbox.add(make_bag(tmp_path / "actor" / "episodes", "episode_000000", b"z" * 50))
    path = tmp_path / "actor" / "outbox" / "pending" / "episode_000000.jsfl"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert outbox.frame("episode_000000") is None
    assert outbox.corrupt == 1 and not outbox.pending
    assert (tmp_path / "actor" / "outbox" / "rejected" / "episode_000000.jsfl").exists()


def test_a_bag_stored_just_before_a_crash_is_known_after_restart(tmp_path: Path, actor) -> None:
    _, outbox = actor
    outbox.add(make_bag(tmp_path / "actor" / "episodes", "episode_000007"))
    frame = outbox.frame("episode_000007")
    assert learner_inbox(tmp_path).receive(frame).ack.status == STORED
    (tmp_path / "learner" / "fleet" / "inbox.log").write_text("")  # the journal line never made it
    (tmp_path / "learner" / "episodes" / ".incoming" / "half").mkdir()  # nor did a second bag
    restarted = learner_inbox(tmp_path)
    assert restarted.receive(frame).ack.status == DUPLICATE
    assert not any((tmp_path / "learner" / "episodes" / ".incoming").iterdir())


def test_a_corrupt_journal_line_in_the_middle_is_an_error_naming_the_file(tmp_path: Path) -> None:
    journal = tmp_path / "learner" / "fleet" / "inbox.log"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"actor": 1}\n{"actor": 1, "episode": "episode_000000", "sha256": "a", "status": "stored"}\n')
    with pytest.raises(ValueError, match="inbox.log:1"):
        learner_inbox(tmp_path)


# --- weights ------------------------------------------------------------------------------

def test_chunks_reassemble_in_any_order_and_verify() -> None:
    data = bytes(range(256)) * 41  # 10,496 bytes
    frames = split(data, serial=5, chunk_bytes=1000, key=LEARNER)
    assert len(frames) == 11 and decode_chunk(frames[-1], LEARNER_PUBLIC)[0].expected_length() == 496
    assembly = Reassembly(LEARNER_PUBLIC)
    results = [assembly.add(f) for f in reversed(frames)]
    assert results[:-1] == [None] * 10
    header, whole = results[-1]
    assert whole == data and header.serial == 5
    assert assembly.add(frames[0]) is None and assembly.counters.stale == 1  # the installed one again


def test_a_newer_checkpoint_interrupts_an_older_one_and_stale_chunks_are_ignored() -> None:
    old, new = split(b"o" * 3000, 1, 1000, LEARNER), split(b"n" * 2500, 2, 1000, LEARNER)
    assembly = Reassembly(LEARNER_PUBLIC)
    assert assembly.add(old[0]) is None
    assert assembly.add(new[1]) is None  # serial 2 starts: serial 1 is abandoned
    assert assembly.add(old[1]) is None and assembly.add(old[2]) is None  # stale
    assert assembly.add(new[0]) is None
    header, data = assembly.add(new[2])
    assert (header.serial, data) == (2, b"n" * 2500)
    assert (assembly.counters.interrupted, assembly.counters.stale, assembly.counters.completed) == (1, 2, 1)


def test_bad_chunks_are_malformed_and_a_wrong_hash_discards_the_whole_file() -> None:
    frames = split(b"w" * 2000, 3, 1000, LEARNER)
    header, body = decode_chunk(frames[0], LEARNER_PUBLIC)
    raw = {"kind": "weights", "serial": 3, "index": 0, "count": 2, "size": 2000, "chunk_bytes": 1000,
           "sha256": header.sha256}
    for changes, body_bytes in (({"count": 3}, bytes(body)), ({"index": 2}, bytes(body)), ({}, bytes(body[:-1])),
                                ({"serial": -1}, bytes(body))):
        with pytest.raises(MalformedFrame):
            decode_chunk(encode({**raw, **changes}, body_bytes, LEARNER), LEARNER_PUBLIC)
    assembly = Reassembly(LEARNER_PUBLIC, max_bytes=1500)
    with pytest.raises(MalformedFrame, match="limit"):
        assembly.add(frames[0])
    assembly = Reassembly(LEARNER_PUBLIC)
    forged = encode({**raw, "sha256": "0" * 64}, bytes(body), LEARNER)
    assembly.add(forged)
    with pytest.raises(MalformedFrame, match="another file"):
        assembly.add(frames[1])  # same serial, a different file
    other = split(b"v" * 2000, 4, 1000, LEARNER)
    tampered = encode({**raw, "serial": 4, "index": 1, "sha256": decode_chunk(other[1], LEARNER_PUBLIC)[0].sha256},
                      b"x" * 1000, LEARNER)
    assembly.add(other[0])
    with pytest.raises(MalformedFrame, match="do not match"):
        assembly.add(tampered)
    assert assembly.counters.mismatched == 1 and assembly.installed is None
