"""The fleet's secret keys: one per actor, one for the learner; each a file of 32 random bytes in hex, mode 0600.

Why: SROS2 is impossible with the PyPI Fast DDS (docs/fleet.md), so the fleet authenticates its
own frames (jsrl_ros/fleet/wire.py: HMAC-SHA256). An actor signs its episodes with its key, and
the learner, which holds every allowed actor's key, signs that actor's acks with it; the
learner signs weights with its own key, which every actor holds. A key file's name says whose
it is: ``actor_<id>.key``, ``learner.key``.

    python -m jsrl_ros.fleet.keys runs/fleet/keys --actors 1,2

makes the missing files of a key folder (an existing key is never overwritten). The learner's
host needs the whole folder; actor N's host needs ``actor_N.key`` and ``learner.key``.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import stat
from pathlib import Path

from jsrl_learning.config import ConfigError

KEY_BYTES = 32
LEARNER_KEY = "learner.key"
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


def read_key(path: str | Path, what: str) -> bytes:
    """The key in ``path``; ConfigError naming ``what`` (the parameter) and the file if it is missing, readable
    by others than its owner, or not 64 hex digits."""
    path = Path(path)
    if not str(path) or not path.is_file():
        raise ConfigError(f"{what}: key file {str(path)!r} not found ({MAKE_HINT})")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{what}: key file {path} has mode {mode:o}; a secret key must be readable by its owner "
                          f"only (chmod 600 {path})")
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
    """The learner's key and each actor's in ``folder``: the files made now (existing ones are kept)."""
    made = []
    for name in (LEARNER_KEY, *(actor_key_name(a) for a in actors)):
        if not (folder / name).exists():
            made.append(write_key(folder / name))
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
    print(f"learner host: all of {args.folder}; actor N's host: {actor_key_name(0).replace('0', 'N')} and "
          f"{LEARNER_KEY} (copy them over ssh; mode 0600)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
