"""Step identities round-trip exactly; conversions reject what must be dropped."""
from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from jsrl_ros.contract.conversions import (MalformedMessage, image_to_numpy, named_vector, named_vector_values,
                                           numpy_to_image, restamped)
from jsrl_ros.contract.step_clock import StepClock, stamp_key


@pytest.mark.parametrize("dt", [0.1, 0.05, 1 / 30])
def test_step_clock_round_trips_and_orders(dt: float) -> None:
    clock = StepClock(dt)
    ids = [(e, t) for e in (0, 1, 7, 12345) for t in (0, 1, 19, 999)]
    stamps = [clock.stamp(e, t) for e, t in ids]
    assert [clock.identity(s) for s in stamps] == ids
    keys = [stamp_key(s) for s in stamps]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_step_clock_rejects_off_grid_stamps_and_bad_dt() -> None:
    clock = StepClock(0.1)
    with pytest.raises(ValueError, match="not a step"):
        clock.identity(Time(sec=5, nanosec=123))
    with pytest.raises(ValueError, match="dt"):
        StepClock(0.0)


@pytest.mark.parametrize("shape,encoding", [((6, 5, 3), "rgb8"), ((6, 5, 3), "bgr8"), ((6, 5), "mono8")])
def test_image_round_trip(shape: tuple[int, ...], encoding: str) -> None:
    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    back = image_to_numpy(numpy_to_image(array, Time(), encoding=encoding))
    np.testing.assert_array_equal(back.reshape(shape), array)


def test_image_with_row_padding_is_read_without_the_padding() -> None:
    msg = numpy_to_image(np.zeros((2, 3, 3), np.uint8), Time())
    msg.step, msg.data = 12, bytes(range(24))
    assert image_to_numpy(msg).tolist()[1][0] == [12, 13, 14]


@pytest.mark.parametrize("mutate,match", [
    (lambda m: setattr(m, "encoding", "16UC1"), "encoding"),
    (lambda m: setattr(m, "data", m.data[:-1]), "bytes"),
    (lambda m: setattr(m, "width", 0), "empty"),
])
def test_malformed_images_are_rejected(mutate, match: str) -> None:
    msg = numpy_to_image(np.zeros((4, 4, 3), np.uint8), Time())
    mutate(msg)
    with pytest.raises(MalformedMessage, match=match):
        image_to_numpy(msg)


def test_a_restamped_image_keeps_its_pixels_and_frame_and_leaves_the_original_alone() -> None:
    array = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    original = numpy_to_image(array, Time(sec=1), frame_id="camera_optical", encoding="bgr8")
    copy = restamped(original, Time(sec=7, nanosec=5))
    assert (copy.header.stamp.sec, copy.header.stamp.nanosec, copy.header.frame_id) == (7, 5, "camera_optical")
    assert copy.encoding == "bgr8" and original.header.stamp.sec == 1
    np.testing.assert_array_equal(image_to_numpy(copy), array)


def test_named_vectors_check_names_length_and_finiteness() -> None:
    names = ["dx", "dy", "gripper"]
    msg = named_vector(names, [0.1, -0.2, 1.0], Time(sec=3))
    np.testing.assert_allclose(named_vector_values(msg, names), [0.1, -0.2, 1.0])
    with pytest.raises(MalformedMessage, match="names"):
        named_vector_values(msg, ["dx", "dy", "dz"])
    msg.position = [0.1, float("nan"), 1.0]
    with pytest.raises(MalformedMessage, match="non-finite"):
        named_vector_values(msg, names)
    msg.position = [0.1]
    with pytest.raises(MalformedMessage, match="3 names"):
        named_vector_values(msg, names)
