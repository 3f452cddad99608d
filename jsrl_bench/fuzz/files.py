"""The files that path-carrying messages (``jsrl/checkpoint``, ``jsrl/episode_bag``) point at.

A path is only as hostile as what it names: a junk checkpoint, a truncated one, a bag whose
metadata says ``length: "abc"`` (the learner's silent death of issue 11), a directory, an
empty file. Every file lives in the harness's own folder, or — for the one bag a learner
would quarantine — in the run's episode folder under a fresh name, so no message can make
a node read or move anything of the user's.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from jsrl_ros.recording.episode_bags import META_KEY, list_episode_bags

BAD_META = {"length": "abc", "episode": -1, "guide_step": 1e308}


def make_bad_files(folder: Path, episode_dir: Path | None = None, checkpoint: Path | None = None) -> list[str]:
    """Create the hostile files in ``folder``; returns their paths and a few that do not exist.
    ``episode_dir`` / ``checkpoint``: the run's, copied and then corrupted when they exist."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "missing.pt", folder / "missing_bag", Path("/nonexistent/jsrl_fuzz/x.pt")]
    (folder / "junk.pt").write_bytes(bytes(range(256)) * 40)
    (folder / "empty.pt").write_bytes(b"")
    (folder / "a_directory").mkdir(exist_ok=True)
    (folder / "not_a_bag").mkdir(exist_ok=True)
    (folder / "not_a_bag" / "metadata.yaml").write_text("rosbag2_bagfile_information: [this, is, not, a, bag]\n")
    paths += [folder / "junk.pt", folder / "empty.pt", folder / "a_directory", folder / "not_a_bag"]
    if checkpoint is not None and checkpoint.is_file():
        data = checkpoint.read_bytes()
        (folder / "truncated.pt").write_bytes(data[: len(data) // 2])
        paths.append(folder / "truncated.pt")
    bags = list_episode_bags(episode_dir) if episode_dir is not None else []
    if bags:
        paths += _bad_bags(bags[0], folder, episode_dir)
    return [str(p) for p in paths]


def _bad_bags(real: Path, folder: Path, episode_dir: Path) -> list[Path]:
    """Copies of a real bag: one with impossible metadata (in ``folder`` and, under a new name, in the
    episode folder, where a learner quarantines it), one with its MCAP file truncated."""
    out = []
    for target in (folder / "bag_bad_meta", episode_dir / "episode_990000"):
        if not target.exists():
            shutil.copytree(real, target)
            _corrupt_meta(target / "metadata.yaml")
        out.append(target)
    truncated = folder / "bag_truncated"
    if not truncated.exists():
        shutil.copytree(real, truncated)
        for mcap in truncated.glob("*.mcap"):
            mcap.write_bytes(mcap.read_bytes()[:100])
    out.append(truncated)
    return out


def _corrupt_meta(path: Path) -> None:
    """Replace fields of the episode's JSON metadata (custom_data.jsrl_episode) with impossible values."""
    data = yaml.safe_load(path.read_text())
    custom = data["rosbag2_bagfile_information"].setdefault("custom_data", {})
    meta = json.loads(custom.get(META_KEY, "{}"))
    meta.update(BAD_META)
    custom[META_KEY] = json.dumps(meta)
    path.write_text(yaml.safe_dump(data))
