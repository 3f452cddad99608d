"""The fleet's wire format: one self-describing byte frame per message, checked field by field.

Custom rosidl interfaces cannot be built from the PyPI ROS wheels, so every fleet topic carries
a ``std_msgs/UInt8MultiArray`` whose ``data`` is one *frame* (``layout`` stays empty)::

    b"JSFL" | version (u8) | header length (u32, big-endian) | header (UTF-8 JSON object) | body

The frame, not the message type, is the contract: it is versioned, and this module (no rclpy)
encodes and checks it, so the gateway nodes only move bytes. A header has exactly the keys its
``kind`` defines, each of its type and range (a bool is not an int, a float must be finite);
anything else is :class:`MalformedFrame`, which a node drops and counts. docs/fleet.md lists the
kinds:

* ``episode`` (``/fleet/episodes``): one finished episode bag, its files concatenated in the body;
* ``ack`` (``/fleet/acks``): the learner's answer for one episode;
* ``weights`` (``/fleet/weights``): one chunk of a checkpoint file.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable

MAGIC = b"JSFL"
VERSION = 1
_PREFIX = struct.Struct(">4sBI")  # magic, version, header length
MAX_HEADER_BYTES = 64 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: A bag's name in the actor's episode folder (the recorder's ``episode_000012`` or ``episode_000012_1``).
EPISODE_NAME = re.compile(r"^episode_\d{6,}(_\d+)?$")
#: A file of a bag: a plain name, no folder, nothing hidden.
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_FILES = 16
MAX_ACTOR_ID = 2**31 - 1

EPISODE, ACK, WEIGHTS = "episode", "ack", "weights"
STORED, DUPLICATE, REJECTED, CONFLICT = "stored", "duplicate", "rejected", "conflict"
ACK_STATUSES = (STORED, DUPLICATE, REJECTED, CONFLICT)


class MalformedFrame(ValueError):
    """A frame that must be dropped whole; the text names the field that is wrong."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame: the prefix, ``header`` as compact JSON, then ``body``."""
    text = json.dumps(header, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(f"frame header is {len(text)} bytes, the limit is {MAX_HEADER_BYTES}")
    return _PREFIX.pack(MAGIC, VERSION, len(text)) + text + body


def decode(frame: bytes | memoryview, kind: str) -> tuple[dict[str, Any], memoryview]:
    """``(header, body)`` of a frame of ``kind``; MalformedFrame if the prefix, JSON or kind is wrong."""
    view = memoryview(frame)
    if len(view) < _PREFIX.size:
        raise MalformedFrame(f"frame of {len(view)} bytes is shorter than its {_PREFIX.size}-byte prefix")
    magic, version, length = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        raise MalformedFrame(f"frame starts with {bytes(magic)!r}, not {MAGIC!r}")
    if version != VERSION:
        raise MalformedFrame(f"frame version {version}, this node speaks {VERSION}")
    if length > MAX_HEADER_BYTES or _PREFIX.size + length > len(view):
        raise MalformedFrame(f"header length {length} does not fit the {len(view)}-byte frame")
    try:
        header = json.loads(bytes(view[_PREFIX.size:_PREFIX.size + length]).decode(),
                            parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedFrame(f"header is not UTF-8 JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise MalformedFrame(f"header is a JSON {type(header).__name__}, not an object")
    if header.get("kind") != kind:
        raise MalformedFrame(f"header kind {header.get('kind')!r}, expected {kind!r}")
    return header, view[_PREFIX.size + length:]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a frame may carry")


# --- field checks -------------------------------------------------------------------------

def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and low <= v <= high


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


def _finite(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _files(v: Any) -> bool:
    """``[[name, size], ...]``: 1..MAX_FILES plain, distinct names with sizes >= 0."""
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_FILES:
        return False
    if not all(isinstance(f, list) and len(f) == 2 and _matches(FILE_NAME)(f[0]) and _whole(0, 2**62)(f[1])
               for f in v):
        return False
    return len({f[0] for f in v}) == len(v)


def _check(header: dict[str, Any], fields: dict[str, tuple[Callable[[Any], bool], str]]) -> None:
    """Exactly ``kind`` and ``fields``' keys, each value passing its check."""
    keys = set(header) - {"kind"}
    if keys != set(fields):
        missing, unknown = sorted(set(fields) - keys), sorted(keys - set(fields))
        raise MalformedFrame(f"{header.get('kind')} header: missing {missing}, unknown {unknown}")
    for key, (valid, wanted) in fields.items():
        if not valid(header[key]):
            raise MalformedFrame(f"{header['kind']} header: {key} must be {wanted}, got {header[key]!r}")


ACTOR = (_whole(0, MAX_ACTOR_ID), f"an integer in [0, {MAX_ACTOR_ID}]")
EPISODE_ID = (_matches(EPISODE_NAME), "a bag name like episode_000012 or episode_000012_1")
DIGEST = (_matches(SHA256), "64 lowercase hex digits (sha256)")


# --- episodes -----------------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeHeader:
    """One finished episode bag: ``files`` ``[(name, size)]`` concatenated in the body, whose sha256 is
    ``sha256``; ``sent``: the actor's wall-clock time when it (re-)sent it (delivery latency)."""

    actor: int
    episode: str
    files: tuple[tuple[str, int], ...]
    sha256: str
    sent: float

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)


EPISODE_FIELDS = {"actor": ACTOR, "episode": EPISODE_ID, "sha256": DIGEST,
                  "files": (_files, f"[[name, size], ...]: 1 to {MAX_FILES} distinct plain file names"),
                  "sent": (_finite, "a finite number (seconds since the epoch)")}


def encode_episode(header: EpisodeHeader, body: bytes) -> bytes:
    return encode({"kind": EPISODE, "actor": header.actor, "episode": header.episode,
                   "files": [list(f) for f in header.files], "sha256": header.sha256, "sent": header.sent}, body)


def decode_episode(frame: bytes | memoryview) -> tuple[EpisodeHeader, memoryview]:
    """The header and body of an episode frame; the body's length must be the files' total (the hash is
    checked where the bytes are stored)."""
    raw, body = decode(frame, EPISODE)
    _check(raw, EPISODE_FIELDS)
    header = EpisodeHeader(raw["actor"], raw["episode"], tuple((n, s) for n, s in raw["files"]), raw["sha256"],
                           float(raw["sent"]))
    if len(body) != header.size:
        raise MalformedFrame(f"episode {header.episode} of actor {header.actor}: body is {len(body)} bytes, its "
                             f"files add up to {header.size} (truncated?)")
    return header, body


# --- acknowledgements ---------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    """The learner's answer for one episode: ``stored`` or ``duplicate`` (it has it), ``rejected`` (never
    trainable: its bag is not an episode) or ``conflict`` (the id was stored with other bytes)."""

    actor: int
    episode: str
    status: str


ACK_FIELDS = {"actor": ACTOR, "episode": EPISODE_ID,
              "status": (lambda v: v in ACK_STATUSES, f"one of {list(ACK_STATUSES)}")}


def encode_ack(ack: Ack) -> bytes:
    return encode({"kind": ACK, "actor": ack.actor, "episode": ack.episode, "status": ack.status})


def decode_ack(frame: bytes | memoryview) -> Ack:
    raw, body = decode(frame, ACK)
    _check(raw, ACK_FIELDS)
    if len(body):
        raise MalformedFrame(f"ack carries a {len(body)}-byte body; acks have none")
    return Ack(raw["actor"], raw["episode"], raw["status"])


# --- weight chunks ------------------------------------------------------------------------

@dataclass(frozen=True)
class ChunkHeader:
    """Chunk ``index`` of ``count`` of a checkpoint file of ``size`` bytes and sha256 ``sha256``, cut every
    ``chunk_bytes``. ``serial`` orders checkpoints: a higher one replaces a lower one."""

    serial: int
    index: int
    count: int
    size: int
    chunk_bytes: int
    sha256: str

    def expected_length(self) -> int:
        return min(self.chunk_bytes, self.size - self.index * self.chunk_bytes)


CHUNK_FIELDS = {"serial": (_whole(0, 2**63 - 1), "an integer >= 0"),
                "index": (_whole(0, 2**31), "an integer >= 0"),
                "count": (_whole(1, 2**31), "an integer >= 1"),
                "size": (_whole(1, 2**62), "an integer >= 1"),
                "chunk_bytes": (_whole(1, 2**31), "an integer >= 1"),
                "sha256": DIGEST}


def encode_chunk(header: ChunkHeader, body: bytes) -> bytes:
    return encode({"kind": WEIGHTS, "serial": header.serial, "index": header.index, "count": header.count,
                   "size": header.size, "chunk_bytes": header.chunk_bytes, "sha256": header.sha256}, body)


def decode_chunk(frame: bytes | memoryview) -> tuple[ChunkHeader, memoryview]:
    """A weight chunk whose index, count, size and length agree with one another."""
    raw, body = decode(frame, WEIGHTS)
    _check(raw, CHUNK_FIELDS)
    header = ChunkHeader(**{k: raw[k] for k in CHUNK_FIELDS})
    if header.count != -(-header.size // header.chunk_bytes):
        raise MalformedFrame(f"weights {header.serial}: {header.size} bytes in {header.chunk_bytes}-byte chunks "
                             f"are not {header.count} chunks")
    if header.index >= header.count:
        raise MalformedFrame(f"weights {header.serial}: chunk index {header.index} of {header.count}")
    if len(body) != header.expected_length():
        raise MalformedFrame(f"weights {header.serial}: chunk {header.index} has {len(body)} bytes, expected "
                             f"{header.expected_length()} (truncated?)")
    return header, body
