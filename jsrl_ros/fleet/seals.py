"""What authenticates a fleet frame: the tag after its bytes, and who can make it.

Two kinds, because the two directions of trust differ (docs/fleet.md, "Authenticated actors"):

* :class:`SharedKey`: HMAC-SHA256 under a secret that one actor and the learner both hold. It
  signs an actor's episodes and the learner's acks to that actor. Either end can sign, which is
  harmless: an actor can only speak for itself, and forge acks only to itself.
* :class:`SigningKey` / :class:`VerifyKey`: Ed25519 for the learner's weights. The learner alone
  holds the private key; actors hold its public key, which verifies but cannot sign, so a
  compromised actor cannot push weights to the rest of the fleet.
"""
from __future__ import annotations

import hmac
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_KEY_BYTES = 32  # a private key's seed and a public key alike


class Seal(Protocol):
    """A frame authenticator: ``tag_bytes`` long tags over the frame's bytes."""

    tag_bytes: int

    def verify(self, data: bytes | memoryview, tag: bytes) -> bool: ...


class Signer(Seal, Protocol):
    def sign(self, data: bytes | memoryview) -> bytes: ...


class SharedKey:
    """HMAC-SHA256 under a secret both ends hold."""

    tag_bytes = 32

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, data: bytes | memoryview) -> bytes:
        return hmac.new(self._secret, data, "sha256").digest()

    def verify(self, data: bytes | memoryview, tag: bytes) -> bool:
        return hmac.compare_digest(self.sign(data), tag)


class VerifyKey:
    """An Ed25519 public key: checks the learner's signatures, cannot make one."""

    tag_bytes = 64

    def __init__(self, public: bytes) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(public)

    def verify(self, data: bytes | memoryview, tag: bytes) -> bool:
        try:
            self._key.verify(tag, bytes(data))
        except InvalidSignature:
            return False
        return True


class SigningKey(VerifyKey):
    """An Ed25519 private key (from its 32-byte seed): the learner's, which signs weights."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        super().__init__(public_key_of(seed))

    def sign(self, data: bytes | memoryview) -> bytes:
        return self._private.sign(bytes(data))


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a private key's seed."""
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
