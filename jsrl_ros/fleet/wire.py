"""The fleet's wire format: one self-describing, authenticated byte frame per message, checked field by field.

Custom rosidl interfaces cannot be built from the PyPI ROS wheels, so every fleet topic carries
a ``std_msgs/UInt8MultiArray`` whose ``data`` is one *frame* (``layout`` stays empty)::

    b"JSFL" | version (u8) | header length (u32, big-endian) | header (UTF-8 JSON object) | body | tag

The tag authenticates everything before it (jsrl_ros/fleet/seals.py): HMAC-SHA256 (32 bytes)
under the secret an actor shares with the learner for its episodes and the acks it is sent;
an Ed25519 signature (64 bytes) by the learner's private key for weights, which actors check
with its public key. A frame without a valid tag is :class:`Unauthenticated` (the bytes are not
encrypted: authenticity and integrity only; docs/fleet.md).

The frame, not the message type, is the contract: it is versioned, and this module (no rclpy)
encodes and checks it, so the gateway nodes only move bytes. A header has exactly the keys its
``kind`` defines, each of its type and range (a bool is not an int, a float must be finite);
anything else is :class:`MalformedFrame`, which a node drops and counts. docs/fleet.md lists the
kinds:

* ``episode`` (``/fleet/episodes``): one finished episode bag, its files concatenated in the body;
* ``ack`` (``/fleet/acks``): the learner's answer for one episode, bound to the episode's sha256;
* ``weights`` (``/fleet/weights``): one chunk of a checkpoint file.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from jsrl_ros.fleet.seals import Seal, SharedKey, Signer, SigningKey, VerifyKey

MAGIC = b"JSFL"
VERSION = 3  # 2: a MAC after the body, acks carry the episode's sha256; 3: weights signed with Ed25519
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


class Unauthenticated(MalformedFrame):
    """A frame whose tag is missing or does not match its bytes under the sender's key: forged, tampered
    with, or signed with another key."""


class UnknownActor(ValueError):
    """An episode from an actor id the learner has no key for (not in its configuration)."""


def encode(header: dict[str, Any], body: bytes | memoryview, key: Signer) -> bytes:
    """One frame: the prefix, ``header`` as compact JSON, ``body``, then ``key``'s tag of all that."""
    text = json.dumps(header, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(f"frame header is {len(text)} bytes, the limit is {MAX_HEADER_BYTES}")
    signed = b"".join((_PREFIX.pack(MAGIC, VERSION, len(text)), text, body))
    return signed + key.sign(signed)


def decode(frame: bytes | memoryview, kind: str,
           key: Seal | Callable[[dict[str, Any]], Seal]) -> tuple[dict[str, Any], memoryview]:
    """``(header, body)`` of an authentic frame of ``kind``; ``key`` checks the tag, or is picked from the
    parsed header (an episode's actor). MalformedFrame if the prefix, JSON or kind is wrong,
    Unauthenticated if the tag is missing or wrong (the header's fields are checked by the caller)."""
    view = memoryview(frame)
    if len(view) < _PREFIX.size:
        raise MalformedFrame(f"frame of {len(view)} bytes is shorter than its {_PREFIX.size}-byte prefix")
    magic, version, length = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        raise MalformedFrame(f"frame starts with {bytes(magic)!r}, not {MAGIC!r}")
    if version != VERSION:
        raise MalformedFrame(f"frame version {version}, this node speaks version {VERSION}: the fleet's hosts run "
                             f"different jsrl_ros releases (update them together)")
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
    seal = key if hasattr(key, "verify") else key(header)
    end = len(view) - seal.tag_bytes
    if end < _PREFIX.size + length:
        raise Unauthenticated(f"{kind} frame has no tag: {end - _PREFIX.size - length + seal.tag_bytes} bytes "
                              f"follow its header, a tag alone is {seal.tag_bytes}")
    if not seal.verify(view[:end], bytes(view[end:])):
        raise Unauthenticated(f"{kind} frame's tag does not match (forged, tampered with, or another key)")
    return header, view[_PREFIX.size + length:end]


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


def encode_episode(header: EpisodeHeader, body: bytes | memoryview, key: bytes) -> bytes:
    return encode({"kind": EPISODE, "actor": header.actor, "episode": header.episode,
                   "files": [list(f) for f in header.files], "sha256": header.sha256, "sent": header.sent}, body,
                  SharedKey(key))


def decode_episode(frame: bytes | memoryview, keys: Mapping[int, bytes]) -> tuple[EpisodeHeader, memoryview]:
    """The header and body of an episode frame, authenticated with its actor's key in ``keys`` (UnknownActor
    if there is none); the body's length must be the files' total (the hash is checked where the bytes are
    stored)."""
    raw, body = decode(frame, EPISODE, lambda raw: _actor_key(raw, keys))
    _check(raw, EPISODE_FIELDS)
    header = EpisodeHeader(raw["actor"], raw["episode"], tuple((n, s) for n, s in raw["files"]), raw["sha256"],
                           float(raw["sent"]))
    if len(body) != header.size:
        raise MalformedFrame(f"episode {header.episode} of actor {header.actor}: body is {len(body)} bytes, its "
                             f"files add up to {header.size} (truncated?)")
    return header, body


def _actor_key(raw: dict[str, Any], keys: Mapping[int, bytes]) -> SharedKey:
    """The key of the frame's actor: UnknownActor for an actor not in ``keys``."""
    actor = raw.get("actor")
    if not ACTOR[0](actor):
        raise MalformedFrame(f"{raw['kind']} header: actor must be {ACTOR[1]}, got {actor!r}")
    if actor not in keys:
        raise UnknownActor(f"actor {actor} is not one of the allowed actors {sorted(keys)}")
    return SharedKey(keys[actor])


# --- acknowledgements ---------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    """The learner's answer for one episode of the bytes whose sha256 is ``sha256`` (so a recorded ack
    settles only that episode): ``stored`` or ``duplicate`` (it has it), ``rejected`` (never trainable:
    its bag is not an episode) or ``conflict`` (the id was stored with other bytes). Signed with the
    actor's own key."""

    actor: int
    episode: str
    sha256: str
    status: str


ACK_FIELDS = {"actor": ACTOR, "episode": EPISODE_ID, "sha256": DIGEST,
              "status": (lambda v: v in ACK_STATUSES, f"one of {list(ACK_STATUSES)}")}


def encode_ack(ack: Ack, key: bytes) -> bytes:
    return encode({"kind": ACK, "actor": ack.actor, "episode": ack.episode, "sha256": ack.sha256,
                   "status": ack.status}, b"", SharedKey(key))


def decode_ack(frame: bytes | memoryview, keys: Mapping[int, bytes]) -> Ack:
    """An ack, authenticated with its actor's key in ``keys`` (an actor passes its own: UnknownActor for an
    ack addressed to another actor)."""
    raw, body = decode(frame, ACK, lambda raw: _actor_key(raw, keys))
    _check(raw, ACK_FIELDS)
    if len(body):
        raise MalformedFrame(f"ack carries a {len(body)}-byte body; acks have none")
    return Ack(raw["actor"], raw["episode"], raw["sha256"], raw["status"])


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


def encode_chunk(header: ChunkHeader, body: bytes, key: SigningKey) -> bytes:
    return encode({"kind": WEIGHTS, "serial": header.serial, "index": header.index, "count": header.count,
                   "size": header.size, "chunk_bytes": header.chunk_bytes, "sha256": header.sha256}, body, key)


def decode_chunk(frame: bytes | memoryview, key: VerifyKey) -> tuple[ChunkHeader, memoryview]:
    """A weight chunk, signed by the learner (``key``: its public key), whose index, count, size and length agree."""
    raw, body = decode(frame, WEIGHTS, key)
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
