"""The learner's inbox: each actor's episode stored once, under (actor id, episode), whole or not at all.

An episode frame (jsrl_ros/fleet/wire.py) from an allowed actor, signed with that actor's key
(the learner holds one per allowed actor: jsrl_ros/fleet/keys.py), whose body matches its sha256
is unpacked into ``<episode_dir>/.incoming/``, checked (``check_bag``: the node passes the bag
reader's metadata check), then renamed to ``<episode_dir>/actor_<id>_<episode>`` — where the
unchanged learner node reads bags, at start and when announced. Every decision is appended to
a journal (``actor``, ``episode``, ``sha256``, ``status``; fsynced), so a restarted receiver
answers a re-sent episode ``duplicate`` and the learner never gets it twice.

Answers: ``stored`` (new), ``duplicate`` (same bytes seen before), ``conflict`` (the id was
stored with other bytes: the actor reused an episode id), ``rejected`` (hash fine, but the bag is
not an episode: the actor must not send it again). No answer at all for a malformed frame, a
hash mismatch (it may be re-sent intact), a frame not signed with its actor's key (an impostor
using a known id) or an actor id that is not allowed (nobody unknown is talked to):
:class:`~jsrl_ros.fleet.wire.MalformedFrame`, its subclass :class:`~jsrl_ros.fleet.wire.Unauthenticated`,
:class:`~jsrl_ros.fleet.wire.UnknownActor`. Acks name the episode's sha256 and are signed with the
actor's key (:meth:`Inbox.signed`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, TypeVar

from jsrl_ros.fleet.bag_files import pack, unpack
from jsrl_ros.fleet.wire import (CONFLICT, DUPLICATE, REJECTED, STORED, Ack, MalformedFrame, decode_episode,
                                 encode_ack)
from jsrl_ros.recording.episode_bags import fsync_dir

T = TypeVar("T")
INCOMING = ".incoming"
QUARANTINE = "quarantine"  # where the learner moves a bag it could not read (jsrl_ros/recording/episode_bags.py)
STORED_NAME = re.compile(r"^actor_(\d+)_(episode_\d{6,}(?:_\d+)?)$")


def stored_name(actor: int, episode: str) -> str:
    return f"actor_{actor}_{episode}"


@dataclass(frozen=True)
class Received(Generic[T]):
    """The answer to send, and for a newly stored episode its bag, what ``check_bag`` said of it and when the
    actor sent it (its wall clock)."""

    ack: Ack
    bag: Path | None = None
    checked: T | None = None
    sent: float = 0.0


class Inbox(Generic[T]):
    def __init__(self, episode_dir: str | Path, journal: str | Path, keys: Mapping[int, bytes],
                 check_bag: Callable[[Path], T], max_bytes: int = 256 * 2**20) -> None:
        """``keys``: each allowed actor's id -> its key."""
        self.episode_dir, self.journal = Path(episode_dir), Path(journal)
        self.keys = dict(keys)
        self.check_bag, self.max_bytes = check_bag, max_bytes
        self.incoming = self.episode_dir / INCOMING
        shutil.rmtree(self.incoming, ignore_errors=True)  # what a killed receiver left half-written
        self.incoming.mkdir(parents=True)
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.seen: dict[tuple[int, str], tuple[str, str]] = self._read_journal()  # key -> (sha256, status)
        self._adopt_unjournaled()

    def _read_journal(self) -> dict[tuple[int, str], tuple[str, str]]:
        if not self.journal.is_file():
            return {}
        seen = {}
        lines = self.journal.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                seen[(int(entry["actor"]), str(entry["episode"]))] = (str(entry["sha256"]), str(entry["status"]))
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines):  # cut by a crash mid-append: that episode is adopted below or re-sent
                    continue
                raise ValueError(f"{self.journal}:{number}: not a journal entry ({exc}); fix or move the file") \
                    from exc
        return seen

    def _adopt_unjournaled(self) -> None:
        """Bags renamed into place just before a crash, whose journal line was never written."""
        for folder in (self.episode_dir, self.episode_dir / QUARANTINE):
            if not folder.is_dir():
                continue
            for bag in folder.iterdir():
                match = STORED_NAME.fullmatch(bag.name)
                if match and bag.is_dir() and (int(match[1]), match[2]) not in self.seen:
                    self._record(int(match[1]), match[2], hashlib.sha256(pack(bag)[1]).hexdigest(), STORED)

    def receive(self, frame: bytes | memoryview) -> Received[T]:
        """Store one episode frame (see the module's docstring for the answers and what raises)."""
        header, body = decode_episode(frame, self.keys)
        if header.size > self.max_bytes:
            raise MalformedFrame(f"episode {header.episode} of actor {header.actor} is {header.size} bytes, the "
                                 f"limit is {self.max_bytes}")
        digest = hashlib.sha256(body).hexdigest()
        if digest != header.sha256:
            raise MalformedFrame(f"episode {header.episode} of actor {header.actor}: body sha256 {digest} != "
                                 f"header's {header.sha256}")
        key = (header.actor, header.episode)
        if key in self.seen:
            seen_digest, status = self.seen[key]
            answer = CONFLICT if seen_digest != digest else DUPLICATE if status == STORED else status
            return Received(Ack(*key, digest, answer))
        name = stored_name(*key)
        staging = self.incoming / name
        shutil.rmtree(staging, ignore_errors=True)
        unpack(staging, header.files, body)
        try:
            checked = self.check_bag(staging)
        except ValueError:
            shutil.rmtree(staging)
            self._record(*key, digest, REJECTED)
            return Received(Ack(*key, digest, REJECTED))
        final = self.episode_dir / name
        os.rename(staging, final)
        fsync_dir(self.episode_dir)
        self._record(*key, digest, STORED)
        return Received(Ack(*key, digest, STORED), final, checked, header.sent)

    def signed(self, ack: Ack) -> bytes:
        """The ack's frame, signed with its actor's key (only that actor, and this learner, can make it)."""
        return encode_ack(ack, self.keys[ack.actor])

    def _record(self, actor: int, episode: str, digest: str, status: str) -> None:
        with open(self.journal, "a") as f:
            f.write(json.dumps({"actor": actor, "episode": episode, "sha256": digest, "status": status}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.seen[(actor, episode)] = (digest, status)

    def counts(self) -> dict[str, Any]:
        statuses = [status for _, status in self.seen.values()]
        return {"stored_total": statuses.count(STORED), "rejected_total": statuses.count(REJECTED)}

