"""Episode bags: one rosbag2 (MCAP) bag per episode, written by the recorder, read by the learner.

A bag is a directory ``<episode_dir>/episode_000012/`` holding ``metadata.yaml`` and
``episode_000012.mcap``, readable by ``ros2 bag`` and replayable. It is written under
``<episode_dir>/.partial/`` and renamed into ``<episode_dir>`` only once closed and
fsynced, so every bag in ``episode_dir`` is a finished episode, whatever happened to the
recorder; ``.partial/`` keeps what an interrupted recorder left, for inspection only. A bag
that the learner cannot read as an episode is moved to ``<episode_dir>/quarantine/``
(:func:`quarantine`), so that no restart chokes on it again.

Messages are serialised with rosbags' own CDR serialiser from their fields: rclpy's CDR
bytes may carry trailing padding that rosbags' strict deserialiser rejects, while rosbags'
bytes read back in rclpy (and ``ros2 bag play``) as well. The episode's metadata (label,
guide-step, who was in control at each step, ...) is JSON under the ``custom_data`` key
``jsrl_episode`` of ``metadata.yaml``: it is written with the bag, by the same rename.
See docs/recording.md.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from jsrl_learning.buffers import take_obs
from jsrl_learning.episode import EXPLORER, GUIDE, Episode
from jsrl_ros.camera_processing import to_rgb
from jsrl_ros.contract.conversions import CHANNELS
from jsrl_ros.contract.names import LABELS, STEP_NAMES
from jsrl_ros.contract.step_clock import StepClock

FORMAT = 1
META_KEY = "jsrl_episode"
PARTIAL_KEY = "jsrl_partial"
PARTIAL_DIR = ".partial"
QUARANTINE_DIR = "quarantine"

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
        except (TypeError, json.JSONDecodeError) as exc:
            raise EpisodeBagError(f"{where}: {META_KEY} is not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise EpisodeBagError(f"{where}: {META_KEY} is not a JSON object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise EpisodeBagError(f"{where}: unknown {META_KEY} key(s) {unknown}")
        try:
            meta = cls(**data)
        except TypeError as exc:
            raise EpisodeBagError(f"{where}: {META_KEY} is incomplete ({exc})") from exc
        if meta.format != FORMAT:
            raise EpisodeBagError(f"{where}: episode bag format {meta.format!r}, this reader knows {FORMAT}")
        meta.validate(where)
        return meta

    def validate(self, where: str) -> None:
        """EpisodeBagError naming the first field whose type or range no recorder writes: the metadata
        comes from a file, and a reader that trusted ``length: "abc"`` would fail far from the cause."""
        for name, (valid, wanted) in _META_CHECKS.items():
            value = getattr(self, name)
            if not valid(value):
                raise EpisodeBagError(f"{where}: {META_KEY}.{name} must be {wanted}, got {value!r}")
        if len(self.controller) != self.length:
            raise EpisodeBagError(f"{where}: {META_KEY}.controller has {len(self.controller)} entries for length "
                                  f"{self.length}")
        roles = set(self.topics)
        if not set(VECTOR_ROLES) <= roles <= {*VECTOR_ROLES, IMAGE}:
            raise EpisodeBagError(f"{where}: {META_KEY}.topics has roles {sorted(roles)}, needs {list(VECTOR_ROLES)} "
                                  f"(+ optional {IMAGE!r})")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strings(items: Any, allowed: Sequence[str] | None = None) -> bool:
    return all(isinstance(x, str) and (allowed is None or x in allowed) for x in items)


_META_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "episode": (_whole, "an int >= 0"),
    "guide_step": (_whole, "an int >= 0"),
    "evaluation": (lambda v: isinstance(v, bool), "true or false"),
    "success": (lambda v: isinstance(v, bool), "true or false"),
    "length": (lambda v: _whole(v) and v >= 1, "an int >= 1"),
    "total_return": (_finite, "a finite number"),
    "ended": (lambda v: v in ENDINGS, f"one of {list(ENDINGS)}"),
    "controller": (lambda v: isinstance(v, list) and _strings(v, (GUIDE, EXPLORER)),
                   f"a list of {GUIDE!r}/{EXPLORER!r}"),
    "topics": (lambda v: isinstance(v, dict) and _strings(v) and _strings(v.values()), "a mapping of role to topic"),
    "dt": (lambda v: _finite(v) and v >= 1e-9, "a period in seconds > 0"),
    "guide_type": (lambda v: isinstance(v, str), "a string"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an int"),
    "label": (lambda v: v in ("", *LABELS), f"one of {['', *LABELS]}"),
    "bridge_success": (lambda v: v is None or isinstance(v, bool), "true, false or null"),
}


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
        if not 0 <= stamp_ns < 2**63:  # MCAP's range; a bad stamp inside would also break close()
            raise ValueError(f"EpisodeBagWriter: stamp {stamp_ns} ns is outside 0 .. 2^63")
        self._writer.write(self._connections[role], int(stamp_ns), bytes(_TYPESTORE.serialize_cdr(msg, msgtype)))
        self.messages += 1

    def finish(self, meta: EpisodeMeta) -> Path:
        """Close with ``meta`` and move the bag into ``episode_dir``; returns its final path."""
        self._writer.set_custom_data(META_KEY, meta.to_json())
        self._writer.close()
        _fsync_tree(self.partial_path)
        final = self.episode_dir / self.name
        os.rename(self.partial_path, final)
        fsync_dir(self.episode_dir)
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


def quarantine(bag: str | Path, episode_dir: str | Path) -> Path:
    """Move a bag that cannot be read as an episode into ``<episode_dir>/quarantine/`` (kept for
    inspection, never listed again); returns where it went. Only bags directly in ``episode_dir``:
    a path from a message must never make a reader move anything else."""
    bag, root = Path(bag), Path(episode_dir)
    if bag.resolve().parent != root.resolve() or bag.name.startswith("."):
        raise ValueError(f"quarantine: {bag} is not a bag in {root}")
    target = root / QUARANTINE_DIR
    target.mkdir(exist_ok=True)
    name, k = bag.name, 0
    while (target / name).exists():
        k += 1
        name = f"{bag.name}_{k}"
    os.rename(bag, target / name)
    fsync_dir(root)
    return target / name


def _fsync_tree(path: Path) -> None:
    for item in path.iterdir():
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(path)


def fsync_dir(path: Path) -> None:
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
        custom = dict(info.get("custom_data") or {})
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise EpisodeBagError(f"{bag}: not a rosbag2 bag ({type(exc).__name__}: {exc})") from exc
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
    for what, values in (("state", states), ("action", actions), ("step", outcomes)):
        if not np.all(np.isfinite(values)):
            raise EpisodeBagError(f"{bag}: non-finite {what} values")
    reward, terminated, truncated = (outcomes[:, STEP_NAMES.index(k)] for k in ("reward", "terminated", "truncated"))
    if not math.isclose(float(reward.sum()), meta.total_return, rel_tol=1e-6, abs_tol=1e-6):
        raise EpisodeBagError(f"{bag}: total_return {meta.total_return!r} is not the sum of its rewards "
                              f"({float(reward.sum())!r})")
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
                if connection.msgtype != (_IMAGE if role == IMAGE else _JOINT_STATE):
                    raise EpisodeBagError(f"{bag}: {connection.topic} holds {connection.msgtype} messages")
                msg = _TYPESTORE.deserialize_cdr(raw, connection.msgtype)
                episode, step = clock.identity(msg.header.stamp)
                if episode != meta.episode or step in steps[role]:
                    raise EpisodeBagError(f"{bag}: {connection.topic} has a message stamped episode {episode} "
                                          f"step {step} (episode {meta.episode}, one message per step)")
                steps[role][step] = msg
    except EpisodeBagError:
        raise
    except Exception as exc:  # noqa: BLE001 — a damaged file fails in the reader or the CDR decoder, in many ways
        raise EpisodeBagError(f"{bag}: unreadable ({type(exc).__name__}: {exc})") from exc
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
