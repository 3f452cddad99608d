"""The fleet's keys: a secret per actor, and the learner's Ed25519 key pair; each a file of 32 bytes in hex.

Why: SROS2 is impossible with the PyPI Fast DDS (docs/fleet.md), so the fleet authenticates its
own frames (jsrl_ros/fleet/seals.py). An actor signs its episodes with its secret, and the
learner, which holds every allowed actor's secret, signs that actor's acks with it. The learner
signs weights with its private key, ``learner.key``; actors check them with its public key,
``learner.pub``, which cannot sign. Secret files are mode 0600; a key file's name says whose it
is: ``actor_<id>.key``, ``learner.key``, ``learner.pub``.

    python -m jsrl_ros.fleet.keys runs/fleet/keys --actors 1,2

makes the missing files of a key folder (an existing key is never overwritten; a missing
``learner.pub`` is derived from ``learner.key``). The learner's host needs every file but
``learner.pub``; actor N's host needs ``actor_N.key`` and ``learner.pub``, and must not hold
``learner.key``.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import stat
from pathlib import Path

from jsrl_learning.config import ConfigError
from jsrl_ros.fleet.seals import ED25519_KEY_BYTES, public_key_of

KEY_BYTES = ED25519_KEY_BYTES  # an actor's HMAC secret is as long as the learner's Ed25519 seed
LEARNER_KEY = "learner.key"
LEARNER_PUBLIC_KEY = "learner.pub"
_HEX = re.compile(rf"^[0-9a-f]{{{2 * KEY_BYTES}}}$")
MAKE_HINT = "make one with: python -m jsrl_ros.fleet.keys KEY_DIR --actors ID,..."


def actor_key_name(actor: int) -> str:
    return f"actor_{actor}.key"


def write_key(path: str | Path) -> Path:
    """A new key file (FileExistsError if there is one: replacing a key locks its holder out)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path


def write_public_key(path: str | Path, seed: bytes) -> Path:
    """The public key of the private key ``seed``, in a new file readable by all."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(public_key_of(seed).hex() + "\n")
    return path


def read_key(path: str | Path, what: str) -> bytes:
    """The secret key in ``path``; ConfigError naming ``what`` (the parameter) and the file if it is missing,
    readable by others than its owner, or not 64 hex digits."""
    path = _existing(path, what)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{what}: key file {path} has mode {mode:o}; a secret key must be readable by its owner "
                          f"only (chmod 600 {path})")
    return _hex_key(path, what)


def read_public_key(path: str | Path, what: str) -> bytes:
    """The public key in ``path`` (any mode); ConfigError naming ``what`` and the file if it is missing, not 64
    hex digits, or a secret key's file (``learner.key`` given where ``learner.pub`` belongs)."""
    path = _existing(path, what)
    if path.name == LEARNER_KEY:
        raise ConfigError(f"{what}: {path} is the learner's private key; an actor takes its public key, "
                          f"{path.with_name(LEARNER_PUBLIC_KEY)} (the private key must stay on the learner's host)")
    return _hex_key(path, what)


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not str(path) or not path.is_file():
        raise ConfigError(f"{what}: key file {str(path)!r} not found ({MAKE_HINT})")
    return path


def _hex_key(path: Path, what: str) -> bytes:
    text = path.read_text(errors="replace").strip()
    if not _HEX.fullmatch(text):
        raise ConfigError(f"{what}: key file {path} does not hold {2 * KEY_BYTES} lowercase hex digits ({MAKE_HINT})")
    return bytes.fromhex(text)


def parse_actor_keys(entries: list[str], what: str) -> dict[int, Path]:
    """``["1=keys/actor_1.key", ...]`` (a ROS string array) -> ``{1: Path("keys/actor_1.key")}``."""
    files: dict[int, Path] = {}
    for entry in entries:
        ident, sep, path = entry.partition("=")
        if not (sep and ident.strip().isdigit() and path.strip()) or int(ident) in files:
            raise ConfigError(f"{what}: {entry!r} is not ID=KEY_FILE with a new actor id (e.g. 1=keys/actor_1.key)")
        files[int(ident)] = Path(path.strip())
    return files


def make_key_dir(folder: Path, actors: list[int]) -> list[Path]:
    """The learner's key pair and each actor's secret in ``folder``: the files made now (existing ones are kept)."""
    made = [write_key(folder / name) for name in (LEARNER_KEY, *(actor_key_name(a) for a in actors))
            if not (folder / name).exists()]
    if not (folder / LEARNER_PUBLIC_KEY).exists():
        made.append(write_public_key(folder / LEARNER_PUBLIC_KEY,
                                     read_key(folder / LEARNER_KEY, f"{folder / LEARNER_KEY}")))
    return made


def main(argv: list[str] | None = None) -> int:
    from jsrl_ros.bringup.fleet_graphs import parse_actor_ids

    parser = argparse.ArgumentParser(prog="python -m jsrl_ros.fleet.keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the key folder (e.g. runs/fleet/keys)")
    parser.add_argument("--actors", required=True, help="actor ids, comma-separated (1,2)")
    args = parser.parse_args(argv)
    try:
        actors = parse_actor_ids(args.actors, "--actors")
    except ValueError as exc:
        parser.error(str(exc))
    for path in make_key_dir(args.folder, actors):
        print(f"made {path}")
    print(f"learner host: all of {args.folder} but {LEARNER_PUBLIC_KEY}; actor N's host: "
          f"{actor_key_name(0).replace('0', 'N')} (mode 0600) and {LEARNER_PUBLIC_KEY}, never {LEARNER_KEY} "
          f"(copy them over ssh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
