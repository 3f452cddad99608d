"""Messages <-> numpy, by hand (cv_bridge is not on PyPI), with checks that name the problem.

Every ``*_to_numpy`` raises :class:`MalformedMessage` for input that must be dropped and
counted; nodes catch it in one place. Conversions never copy more than once.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, JointState

CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1}


class MalformedMessage(ValueError):
    """A message that must be dropped: the text names the topic field that is wrong."""


def image_to_numpy(msg: Image) -> np.ndarray:
    """An (H, W, C) uint8 view of an rgb8/bgr8/mono8 image (C = 1 for mono8)."""
    channels = CHANNELS.get(msg.encoding)
    if channels is None:
        raise MalformedMessage(f"image encoding {msg.encoding!r} not supported (use one of {sorted(CHANNELS)})")
    if msg.height == 0 or msg.width == 0:
        raise MalformedMessage(f"image is empty ({msg.width}x{msg.height})")
    row = msg.width * channels
    if msg.step < row or len(msg.data) != msg.step * msg.height:
        raise MalformedMessage(f"image data is {len(msg.data)} bytes, expected step {msg.step} (>= {row}) "
                               f"x height {msg.height} for {msg.width}x{msg.height} {msg.encoding}")
    flat = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    return flat[:, :row].reshape(msg.height, msg.width, channels)


def numpy_to_image(array: np.ndarray, stamp: Time, frame_id: str = "camera", encoding: str = "rgb8") -> Image:
    """An Image from (H, W, 3) or (H, W) uint8."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"numpy_to_image: need (H, W[, C]) uint8, got {array.shape} {array.dtype}")
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    if CHANNELS.get(encoding) != channels:
        raise ValueError(f"numpy_to_image: {channels} channels do not fit encoding {encoding!r}")
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0, step=width * channels)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(array).tobytes()
    return msg


def restamped(image: Image, stamp: Time) -> Image:
    """A copy of ``image`` (same pixels, same frame) stamped ``stamp``: a driver's frame as a step's observation."""
    msg = Image(height=image.height, width=image.width, encoding=image.encoding, is_bigendian=image.is_bigendian,
                step=image.step, data=image.data)
    msg.header.stamp, msg.header.frame_id = stamp, image.header.frame_id
    return msg


def named_vector(names: Sequence[str], values: np.ndarray | Sequence[float], stamp: Time,
                 frame_id: str = "") -> JointState:
    """A stamped named vector (sensor_msgs/JointState; see docs/topics.md)."""
    msg = JointState(name=list(names), position=[float(v) for v in values])
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def named_vector_values(msg: JointState, names: Sequence[str]) -> np.ndarray:
    """The float64 values of ``msg`` in the order of ``names``; rejects wrong names, length or NaN/inf."""
    if list(msg.name) != list(names):
        raise MalformedMessage(f"names {list(msg.name)} != expected {list(names)}")
    values = np.asarray(msg.position, dtype=np.float64)
    if values.shape != (len(names),):
        raise MalformedMessage(f"position has {values.size} values for {len(names)} names")
    if not np.all(np.isfinite(values)):
        raise MalformedMessage(f"position has non-finite values: {values.tolist()}")
    return values
