"""The actor's outbox: every finished episode stays on the actor's disk until the learner acknowledges it.

Layout (``root``, e.g. ``<out>/fleet/outbox``)::

    pending/episode_000012.jsfl   the episode's frame (jsrl_ros/fleet/wire.py), written atomically
    acked.log                     one line per acknowledged episode: "<name> <status>"
    rejected/                     frames the learner will never take (status rejected/conflict) or
                                  that no longer match their hash on this disk

Nothing is lost across an actor restart: pending frames are re-read at start, and
:meth:`Outbox.catch_up` adds every bag of the episode folder that is neither pending nor
acknowledged (episodes finished while the sender was down). A frame is sent when it was never
sent, or its ack is overdue (``ack_timeout``), at most ``window`` at a time; :meth:`Outbox.resend_all`
makes every pending frame due at once (the learner came back). Frames are signed with the actor's
key, and an ack settles an episode only if it names the episode's sha256 (a replayed ack of an
earlier episode of the same id settles nothing).
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Callable

from jsrl_learning.checkpoint import atomic_write_bytes
from jsrl_ros.fleet.bag_files import pack
from jsrl_ros.fleet.wire import (CONFLICT, EPISODE_NAME, REJECTED, Ack, EpisodeHeader, MalformedFrame,
                                 UnknownActor, decode_episode, encode_episode)
from jsrl_ros.recording.episode_bags import fsync_dir

SUFFIX = ".jsfl"


class Outbox:
    def __init__(self, root: str | Path, actor: int, key: bytes, ack_timeout: float = 10.0, window: int = 8,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        if not ack_timeout > 0 or window < 1:
            raise ValueError(f"ack_timeout must be > 0 s and window >= 1, got {ack_timeout}, {window}")
        self.root, self.actor, self.keys = Path(root), actor, {actor: key}
        self.ack_timeout, self.window = ack_timeout, window
        self.clock, self.wall_clock = clock, wall_clock
        self.pending_dir, self.rejected_dir = self.root / "pending", self.root / "rejected"
        for folder in (self.pending_dir, self.rejected_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.journal = self.root / "acked.log"
        self.acked = self._read_journal()
        self.last_sent: dict[str, float | None] = {}  # pending episode -> when it was last sent (None: due)
        self.sent_before: set[str] = set()
        self.digests: dict[str, str] = {}  # pending episode -> its body's sha256 (read from its frame when needed)
        for path in sorted(self.pending_dir.glob(f"*{SUFFIX}")):
            name = path.name[:-len(SUFFIX)]
            if name in self.acked:  # acknowledged, then the process stopped before removing it
                path.unlink()
            else:
                self.last_sent[name] = None
        self.sent = self.resent = self.acks = self.rejected = self.corrupt = self.bytes_sent = 0

    def _read_journal(self) -> set[str]:
        if not self.journal.is_file():
            return set()
        lines = self.journal.read_text(errors="replace").splitlines()
        # a line cut by a crash names no episode: its frame is still pending and is sent again
        return {line.split()[0] for line in lines if len(line.split()) == 2 and EPISODE_NAME.fullmatch(line.split()[0])}

    @property
    def pending(self) -> list[str]:
        return sorted(self.last_sent)

    def add(self, bag: Path) -> str | None:
        """Keep a finished bag's frame until it is acknowledged; its name, or None if it is already kept or
        acknowledged. ValueError if ``bag`` is not a bag folder with an episode's name."""
        name = bag.name
        if not EPISODE_NAME.fullmatch(name):
            raise ValueError(f"{bag}: not an episode bag's name (episode_NNNNNN[_k])")
        if name in self.last_sent or name in self.acked:
            return None
        files, body = pack(bag)
        header = EpisodeHeader(self.actor, name, files, hashlib.sha256(body).hexdigest(), self.wall_clock())
        atomic_write_bytes(self.pending_dir / f"{name}{SUFFIX}", encode_episode(header, body, self.keys[self.actor]))
        self.last_sent[name] = None
        self.digests[name] = header.sha256
        return name

    def catch_up(self, bags: list[Path]) -> list[str]:
        """Add the bags that are neither pending nor acknowledged (finished while no sender ran)."""
        return [name for bag in bags if (name := self.add(bag)) is not None]

    def due(self) -> list[str]:
        """Pending episodes to send now: never sent, or unacknowledged for ``ack_timeout``; at most
        ``window`` in flight."""
        now = self.clock()
        in_flight = sum(1 for t in self.last_sent.values() if t is not None and now - t < self.ack_timeout)
        ready = [name for name, t in sorted(self.last_sent.items()) if t is None or now - t >= self.ack_timeout]
        return ready[:max(0, self.window - in_flight)]

    def frame(self, name: str) -> bytes | None:
        """The pending episode's frame stamped with the time of sending, marked sent; None (and moved to
        ``rejected/``) if its bytes on this disk no longer match its hash."""
        try:
            header, body = self._read(name)
        except (OSError, MalformedFrame, UnknownActor) as exc:  # also: signed with another key or actor id
            self.corrupt += 1
            self._set_aside(name, f"corrupt: {exc}")
            return None
        if name in self.sent_before:
            self.resent += 1
        else:
            self.sent += 1
            self.sent_before.add(name)
        self.last_sent[name] = self.clock()
        frame = encode_episode(EpisodeHeader(header.actor, header.episode, header.files, header.sha256,
                                             self.wall_clock()), body, self.keys[self.actor])
        self.bytes_sent += len(frame)
        return frame

    def _read(self, name: str) -> tuple[EpisodeHeader, memoryview]:
        header, body = decode_episode((self.pending_dir / f"{name}{SUFFIX}").read_bytes(), self.keys)
        if hashlib.sha256(body).hexdigest() != header.sha256:
            raise MalformedFrame(f"its body does not match its sha256 {header.sha256}")
        self.digests[name] = header.sha256
        return header, body

    def acknowledge(self, ack: Ack) -> bool:
        """Settle a pending episode (for this actor): journal it, then drop or set aside its frame.
        False for an ack of another actor, of an episode not pending (a repeated ack) or of other bytes
        than the pending episode's (a replayed ack of an earlier episode with this id)."""
        if ack.actor != self.actor or ack.episode not in self.last_sent or ack.sha256 != self._digest(ack.episode):
            return False
        with open(self.journal, "a") as f:
            f.write(f"{ack.episode} {ack.status}\n")
            f.flush()
            os.fsync(f.fileno())
        self.acked.add(ack.episode)
        self.acks += 1
        if ack.status in (REJECTED, CONFLICT):
            self.rejected += 1
            self._set_aside(ack.episode, ack.status)
        else:
            (self.pending_dir / f"{ack.episode}{SUFFIX}").unlink(missing_ok=True)
            self.last_sent.pop(ack.episode)
            self.digests.pop(ack.episode, None)
        fsync_dir(self.pending_dir)
        return True

    def _digest(self, name: str) -> str | None:
        if name not in self.digests:
            try:
                self._read(name)
            except (OSError, MalformedFrame, UnknownActor):
                return None  # frame() sets it aside when it is next due
        return self.digests.get(name)

    def resend_all(self) -> None:
        """Every pending episode is due now (the learner's receiver appeared: it may have missed them)."""
        self.last_sent = dict.fromkeys(self.last_sent)

    def _set_aside(self, name: str, reason: str) -> None:
        source = self.pending_dir / f"{name}{SUFFIX}"
        if source.exists():
            os.replace(source, self.rejected_dir / f"{name}{SUFFIX}")
            (self.rejected_dir / f"{name}.why").write_text(reason + "\n")
        self.last_sent.pop(name, None)
        self.digests.pop(name, None)
