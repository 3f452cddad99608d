"""Checkpoint files cut into weight chunks and put back together, verified against the whole file's sha256.

The learner's broadcaster cuts each new checkpoint into ``weights`` frames
(jsrl_ros/fleet/wire.py) of ``chunk_bytes``, numbered ``index`` of ``count`` and tagged with a
``serial`` that grows with every checkpoint. An actor's :class:`Reassembly` collects them in
any order; a chunk of a higher serial abandons the checkpoint being collected (a newer one
interrupts an older one), a chunk of a lower serial than the one collected or installed is
stale. A complete file whose sha256 differs from the header's is thrown away whole. Every chunk
is signed with the learner's private key and checked with its public key (jsrl_ros/fleet/seals.py): an
actor takes weights from nobody else, and holds nothing that could sign them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from jsrl_ros.fleet.seals import SigningKey, VerifyKey
from jsrl_ros.fleet.wire import ChunkHeader, MalformedFrame, decode_chunk, encode_chunk


def split(data: bytes, serial: int, chunk_bytes: int, key: SigningKey) -> list[bytes]:
    """The ``weights`` frames of one checkpoint file, signed with the learner's private ``key``."""
    if not data or chunk_bytes < 1:
        raise ValueError(f"cannot chunk {len(data)} bytes into {chunk_bytes}-byte chunks")
    count = -(-len(data) // chunk_bytes)
    digest = hashlib.sha256(data).hexdigest()
    return [encode_chunk(ChunkHeader(serial, i, count, len(data), chunk_bytes, digest),
                         data[i * chunk_bytes:(i + 1) * chunk_bytes], key) for i in range(count)]


@dataclass
class Counters:
    chunks: int = 0
    stale: int = 0  # chunks of an older checkpoint than the one collected or installed
    interrupted: int = 0  # checkpoints abandoned for a newer one
    mismatched: int = 0  # complete files whose sha256 was wrong
    completed: int = 0


@dataclass
class _Partial:
    header: ChunkHeader
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembly:
    """Collects one checkpoint at a time; :meth:`add` returns ``(header, file bytes)`` when one is complete."""

    def __init__(self, key: VerifyKey, max_bytes: int = 256 * 2**20) -> None:
        self.key, self.max_bytes = key, max_bytes
        self.partial: _Partial | None = None
        self.installed: ChunkHeader | None = None  # the last complete, verified checkpoint
        self.counters = Counters()

    def add(self, frame: bytes | memoryview) -> tuple[ChunkHeader, bytes] | None:
        """Take one frame; MalformedFrame if it is not a valid chunk or contradicts its checkpoint's other
        chunks (Unauthenticated if the learner did not sign it)."""
        header, body = decode_chunk(frame, self.key)
        if header.size > self.max_bytes:
            raise MalformedFrame(f"weights {header.serial}: {header.size} bytes, the limit is {self.max_bytes}")
        self.counters.chunks += 1
        if self.installed is not None and header.serial <= self.installed.serial:
            self.counters.stale += 1
            return None
        if self.partial is None or header.serial > self.partial.header.serial:
            if self.partial is not None:
                self.counters.interrupted += 1
            self.partial = _Partial(header)
        elif header.serial < self.partial.header.serial:
            self.counters.stale += 1
            return None
        elif _whole_file(header) != _whole_file(self.partial.header):
            raise MalformedFrame(f"weights {header.serial}: chunk {header.index} describes another file "
                                 f"({header.size} bytes, sha256 {header.sha256}) than its first chunk did")
        self.partial.parts[header.index] = bytes(body)
        if len(self.partial.parts) < header.count:
            return None
        data = b"".join(self.partial.parts[i] for i in range(header.count))
        first, self.partial = self.partial.header, None
        if hashlib.sha256(data).hexdigest() != first.sha256:
            self.counters.mismatched += 1
            raise MalformedFrame(f"weights {first.serial}: the reassembled {len(data)} bytes do not match sha256 "
                                 f"{first.sha256}; waiting for the next checkpoint")
        self.installed = first
        self.counters.completed += 1
        return first, data


def _whole_file(header: ChunkHeader) -> tuple[int, int, int, str]:
    return header.count, header.size, header.chunk_bytes, header.sha256
