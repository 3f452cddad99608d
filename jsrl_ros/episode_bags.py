"""Episode bags: one rosbag2 (MCAP) bag per episode, written by the recorder, read by the learner.

A bag is a directory ``<episode_dir>/episode_000012/`` holding ``metadata.yaml`` and
``episode_000012.mcap``, readable by ``ros2 bag`` and replayable. It is written under
``<episode_dir>/.partial/`` and renamed into ``<episode_dir>`` only once closed and
fsynced, so every bag in ``episode_dir`` is a finished episode, whatever happened to the
recorder; ``.partial/`` keeps what an interrupted recorder left, for inspection only.

Messages are serialised with rosbags' own CDR serialiser from their fields: rclpy's CDR
bytes may carry trailing padding that rosbags' strict deserialiser rejects, while rosbags'
bytes read back in rclpy (and ``ros2 bag play``) as well. The episode's metadata (label,
guide-step, who was in control at each step, ...) is JSON under the ``custom_data`` key
``jsrl_episode`` of ``metadata.yaml``: it is written with the bag, by the same rename.
See docs/recording.md.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from jsrl_learning.buffers import take_obs
from jsrl_learning.rollout import EXPLORER, GUIDE, Episode
from jsrl_ros.camera_processing import to_rgb
from jsrl_ros.conversions import CHANNELS
from jsrl_ros.contract import STEP_NAMES
from jsrl_ros.step_clock import StepClock

FORMAT = 1
META_KEY = "jsrl_episode"
PARTIAL_KEY = "jsrl_partial"
PARTIAL_DIR = ".partial"

# Roles of the recorded topics; the bag keeps each under its real (resolved) topic name.
INFO, STATE, IMAGE, ACTION, STEP = "episode_info", "state", "image", "action", "step"
VECTOR_ROLES = (INFO, STATE, ACTION, STEP)
ENDINGS = ("terminated", "truncated", "reset")

_TYPESTORE = get_typestore(Stores.ROS2_KILTED)
_JOINT_STATE, _IMAGE = "sensor_msgs/msg/JointState", "sensor_msgs/msg/Image"
_Header = _TYPESTORE.types["std_msgs/msg/Header"]
_Time = _TYPESTORE.types["builtin_interfaces/msg/Time"]


class EpisodeBagError(ValueError):
    """An episode bag that cannot be read as an episode; the message names the bag and the problem."""


@dataclass
class EpisodeMeta:
    """What the recorder knows about a finished episode beyond its messages.

    ``success`` is the human's ``label`` when there is one, else the env's success flag;
    ``bridge_success`` is the bridge's own flag (the sim env's, or the real arm's grasp detector)
    whatever the label says, so both verdicts are kept (None: a bag from before it was recorded).
    ``ended``: ``terminated``/``truncated`` by the env, or ``reset`` (ended early through
    ``jsrl/reset``: treated as a time-limit truncation at its last recorded outcome).
    ``controller[t]`` is ``guide`` for ``t < guide_step``, else ``explorer`` (Algorithm 1).
    """

    episode: int
    guide_step: int
    evaluation: bool
    success: bool
    length: int
    total_return: float
    ended: str
    controller: list[str]
    topics: dict[str, str]
    dt: float
    guide_type: str = ""
    seed: int = -1
    label: str = ""
    bridge_success: bool | None = None
    format: int = FORMAT

    @property
    def obs_mode(self) -> str:
        return "image" if IMAGE in self.topics else "state"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> "EpisodeMeta":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EpisodeBagError(f"{where}: {META_KEY} is not JSON ({exc})") from exc
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise EpisodeBagError(f"{where}: unknown {META_KEY} key(s) {unknown}")
        try:
            meta = cls(**data)
        except TypeError as exc:
            raise EpisodeBagError(f"{where}: {META_KEY} is incomplete ({exc})") from exc
        if meta.format != FORMAT:
            raise EpisodeBagError(f"{where}: episode bag format {meta.format}, this reader knows {FORMAT}")
        return meta


def controller_per_step(guide_step: int, length: int) -> list[str]:
    return [GUIDE if t < guide_step else EXPLORER for t in range(length)]


def bag_time(stamp_ns: int) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 10**9)
    return _Time(sec=sec, nanosec=nanosec)


class EpisodeBagWriter:
    """Streams one episode's messages into ``<episode_dir>/.partial/<name>``.

    :meth:`finish` closes the bag with its metadata and moves it into ``episode_dir``;
    :meth:`abandon` closes it where it is. ``topics`` maps roles (``INFO``, ``STATE``,
    ``ACTION``, ``STEP``, optionally ``IMAGE``) to the topic names kept in the bag.
    """

    def __init__(self, episode_dir: str | Path, episode: int, topics: Mapping[str, str]) -> None:
        missing = [r for r in VECTOR_ROLES if r not in topics]
        unknown = [r for r in topics if r not in (*VECTOR_ROLES, IMAGE)]
        if missing or unknown:
            raise ValueError(f"EpisodeBagWriter: topics need roles {list(VECTOR_ROLES)} (+ optional {IMAGE!r}); "
                             f"missing {missing}, unknown {unknown}")
        self.episode_dir = Path(episode_dir)
        self.name = _free_name(self.episode_dir, episode)
        self.topics = dict(topics)
        self.partial_path = self.episode_dir / PARTIAL_DIR / self.name
        self.messages = 0
        self._writer = Writer(self.partial_path, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {
            role: self._writer.add_connection(topic, _IMAGE if role == IMAGE else _JOINT_STATE, typestore=_TYPESTORE)
            for role, topic in self.topics.items()}

    def write_vector(self, role: str, stamp_ns: int, names: Sequence[str], values: Sequence[float],
                     frame_id: str = "") -> None:
        msg = _TYPESTORE.types[_JOINT_STATE](
            header=_Header(stamp=bag_time(stamp_ns), frame_id=frame_id), name=list(names),
            position=np.asarray(values, dtype=np.float64), velocity=np.zeros(0), effort=np.zeros(0))
        self._write(role, stamp_ns, msg, _JOINT_STATE)

    def write_image(self, stamp_ns: int, image: np.ndarray, encoding: str, frame_id: str = "") -> None:
        """``image``: (H, W, C) uint8 with C matching ``encoding`` (rgb8, bgr8 or mono8)."""
        height, width, channels = image.shape
        msg = _TYPESTORE.types[_IMAGE](
            header=_Header(stamp=bag_time(stamp_ns), frame_id=frame_id), height=height, width=width,
            encoding=encoding, is_bigendian=0, step=width * channels,
            data=np.ascontiguousarray(image, dtype=np.uint8).reshape(-1))
        self._write(IMAGE, stamp_ns, msg, _IMAGE)

    def _write(self, role: str, stamp_ns: int, msg: Any, msgtype: str) -> None:
        self._writer.write(self._connections[role], int(stamp_ns), bytes(_TYPESTORE.serialize_cdr(msg, msgtype)))
        self.messages += 1

    def finish(self, meta: EpisodeMeta) -> Path:
        """Close with ``meta`` and move the bag into ``episode_dir``; returns its final path."""
        self._writer.set_custom_data(META_KEY, meta.to_json())
        self._writer.close()
        _fsync_tree(self.partial_path)
        final = self.episode_dir / self.name
        os.rename(self.partial_path, final)
        _fsync_dir(self.episode_dir)
        return final

    def abandon(self, reason: str) -> Path:
        """Close the bag in ``.partial/`` (readable for inspection, never taken as an episode)."""
        self._writer.set_custom_data(PARTIAL_KEY, reason)
        self._writer.close()
        return self.partial_path


def _free_name(episode_dir: Path, episode: int) -> str:
    """``episode_000012``, or ``episode_000012_1``, ... if a restarted graph reused the id."""
    base = f"episode_{episode:06d}"
    name, k = base, 0
    while (episode_dir / name).exists() or (episode_dir / PARTIAL_DIR / name).exists():
        k += 1
        name = f"{base}_{k}"
    return name


def _fsync_tree(path: Path) -> None:
    for item in path.iterdir():
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading -----------------------------------------------------------------------------


def list_episode_bags(episode_dir: str | Path) -> list[Path]:
    """The finished episode bags in ``episode_dir``, in name (= episode) order."""
    root = Path(episode_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "metadata.yaml").is_file())


def read_meta(bag: str | Path) -> EpisodeMeta:
    bag = Path(bag)
    try:
        info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise EpisodeBagError(f"{bag}: not a rosbag2 bag ({exc})") from exc
    custom = info.get("custom_data") or {}
    if META_KEY not in custom:
        reason = custom.get(PARTIAL_KEY)
        raise EpisodeBagError(f"{bag}: " + (f"a partial episode ({reason})" if reason
                                              else f"no {META_KEY} in its custom_data: not an episode bag"))
    return EpisodeMeta.from_json(custom[META_KEY], str(bag))


@dataclass
class RecordedEpisode:
    path: Path
    meta: EpisodeMeta
    episode: Episode = field(repr=False)


def read_episode(bag: str | Path) -> RecordedEpisode:
    """A finished episode bag as an :class:`Episode` (``to_batch()`` gives replay transitions).

    Observations: the ``state`` vectors (float32), or ``{"image": RGB uint8, "proprio":
    float32}`` when the episode recorded images. Raises EpisodeBagError naming what is missing.
    """
    bag = Path(bag)
    meta = read_meta(bag)
    steps = _messages_by_step(bag, meta)
    length = meta.length
    need = {INFO: range(1), STATE: range(length + 1), ACTION: range(length), STEP: range(1, length + 1)}
    if IMAGE in meta.topics:
        need[IMAGE] = range(length + 1)
    for role, wanted in need.items():
        absent = [t for t in wanted if t not in steps[role]]
        if absent:
            raise EpisodeBagError(f"{bag}: {meta.topics[role]} has no message for step(s) {absent[:10]}")
    try:
        states = np.stack([steps[STATE][t].position for t in need[STATE]]).astype(np.float32)
        obs: Any = states
        if IMAGE in meta.topics:
            obs = {"image": np.stack([_image_array(steps[IMAGE][t]) for t in need[IMAGE]]), "proprio": states}
        actions = np.stack([steps[ACTION][t].position for t in need[ACTION]]).astype(np.float32)
        outcomes = np.stack([_outcome(steps[STEP][t], bag) for t in need[STEP]])
    except ValueError as exc:  # ragged vectors or images of different sizes
        raise EpisodeBagError(f"{bag}: inconsistent messages ({exc})") from exc
    reward, terminated, truncated = (outcomes[:, STEP_NAMES.index(k)] for k in ("reward", "terminated", "truncated"))
    terminated, truncated = terminated > 0.5, truncated > 0.5
    if meta.ended == "reset":
        truncated[-1] = True
    episode = Episode(obs=take_obs(obs, slice(None, -1)), actions=actions, rewards=reward.astype(np.float64),
                      next_obs=take_obs(obs, slice(1, None)), terminated=terminated, truncated=truncated,
                      controller=list(meta.controller), success=meta.success, guide_steps=meta.guide_step)
    return RecordedEpisode(bag, meta, episode)


def _messages_by_step(bag: Path, meta: EpisodeMeta) -> dict[str, dict[int, Any]]:
    clock = StepClock(meta.dt)
    role_of = {topic: role for role, topic in meta.topics.items()}
    steps: dict[str, dict[int, Any]] = {role: {} for role in meta.topics}
    try:
        with Reader(bag) as reader:
            for connection, _, raw in reader.messages():
                role = role_of.get(connection.topic)
                if role is None:
                    continue
                msg = _TYPESTORE.deserialize_cdr(raw, connection.msgtype)
                episode, step = clock.identity(msg.header.stamp)
                if episode != meta.episode or step in steps[role]:
                    raise EpisodeBagError(f"{bag}: {connection.topic} has a message stamped episode {episode} "
                                          f"step {step} (episode {meta.episode}, one message per step)")
                steps[role][step] = msg
    except EpisodeBagError:
        raise
    except (ReaderError, ValueError) as exc:
        raise EpisodeBagError(f"{bag}: unreadable ({exc})") from exc
    return steps


def _image_array(msg: Any) -> np.ndarray:
    channels = CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f"image encoding {msg.encoding!r}")
    flat = np.asarray(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    return to_rgb(flat[:, :msg.width * channels].reshape(msg.height, msg.width, channels), msg.encoding)


def _outcome(msg: Any, bag: Path) -> np.ndarray:
    if list(msg.name) != list(STEP_NAMES):
        raise EpisodeBagError(f"{bag}: step message names {list(msg.name)} != {list(STEP_NAMES)}")
    return np.asarray(msg.position, dtype=np.float64)
