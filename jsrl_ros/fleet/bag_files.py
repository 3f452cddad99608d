"""An episode bag (a folder of plain files) as one byte string and back, durably.

A finished rosbag2 bag is ``metadata.yaml`` plus one ``.mcap`` file. On the wire its files are
concatenated in name order and listed as ``[(name, size)]`` in the frame header
(``jsrl_ros/fleet/wire.py``); on the learner's disk they are written and fsynced into a hidden
folder that is then renamed into place, so a bag directly in the episode folder is always whole.
"""
from __future__ import annotations

import os
from pathlib import Path

from jsrl_ros.fleet.wire import FILE_NAME, MAX_FILES
from jsrl_ros.recording.episode_bags import fsync_dir


def pack(bag: Path) -> tuple[tuple[tuple[str, int], ...], bytes]:
    """``(files, body)`` of a bag folder; ValueError if it holds anything but a few plain files."""
    entries = sorted(bag.iterdir())
    if not entries or len(entries) > MAX_FILES:
        raise ValueError(f"{bag}: a bag holds 1 to {MAX_FILES} files, found {len(entries)}")
    contents = []
    for entry in entries:
        if not entry.is_file() or entry.is_symlink() or not FILE_NAME.fullmatch(entry.name):
            raise ValueError(f"{bag}: {entry.name!r} is not a plain file of a bag")
        contents.append((entry.name, entry.read_bytes()))
    return tuple((name, len(data)) for name, data in contents), b"".join(data for _, data in contents)


def unpack(folder: Path, files: tuple[tuple[str, int], ...], body: bytes | memoryview) -> None:
    """Write ``files`` (cut from ``body``) into the new folder ``folder``, each fsynced, then the folder."""
    folder.mkdir(parents=True)
    offset = 0
    for name, size in files:
        write_synced(folder / name, body[offset:offset + size])
        offset += size
    fsync_dir(folder)


def write_synced(path: Path, data: bytes | memoryview) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
