"""Camera frames -> S×S rgb8 observations: the pure processing and the node contract over real rclpy."""
from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from jsrl_ros.camera_processing import ImageProcessor
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, numpy_to_image
from jsrl_ros.contract.qos import SENSOR
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.nodes.observation import Observation


def test_centre_square_of_the_crop_box_is_kept() -> None:
    assert ImageProcessor(size=8).region(480, 640) == (slice(0, 480), slice(80, 560))
    assert ImageProcessor(size=8, crop=(10, 20, 100, 0)).region(480, 640) == (slice(200, 300), slice(10, 110))
    assert ImageProcessor(size=8, crop=(10, 20, 100, 0), square=False).region(480, 640) == (slice(20, 480),
                                                                                         slice(10, 110))
    assert ImageProcessor(size=8, crop=(0, 0, 100, 40)).region(480, 640) == (slice(0, 40), slice(30, 70))
    with pytest.raises(MalformedMessage, match="does not contain the crop box"):
        ImageProcessor(size=8, crop=(600, 0, 100, 0)).region(480, 640)
    with pytest.raises(ValueError, match="crop"):
        ImageProcessor(crop=(0, -1, 0, 0))


def test_resize_averages_pixels_and_colours_become_rgb() -> None:
    frame = np.zeros((4, 4, 3), np.uint8)
    frame[:2, :2] = (0, 0, 200)  # BGR red in the top-left 2x2 block
    frame[0, 0] = (0, 0, 100)
    out = ImageProcessor(size=2)(frame, "bgr8")
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [175, 0, 0] and out[1, 1].tolist() == [0, 0, 0]  # INTER_AREA: the block's mean
    mono = ImageProcessor(size=3)(np.full((3, 3, 1), 9, np.uint8), "mono8")
    assert mono.shape == (3, 3, 3) and (mono == 9).all()


def frame_msg(shape: tuple[int, ...], encoding: str, stamp: Time, value: int) -> Image:
    return numpy_to_image(np.full(shape, value, np.uint8), stamp, "camera_optical", encoding)


def test_node_turns_any_stream_into_square_rgb8_and_drops_malformed_frames(ros) -> None:
    node = ros.add(Observation(context=ros.context, parameter_overrides=[Parameter("size", value=16)]))
    probe = ros.node("probe")
    out: list[Image] = []
    probe.create_subscription(Image, "jsrl/obs/image", out.append, SENSOR)
    camera = probe.create_publisher(Image, "camera/image_raw", SENSOR)
    assert ros.spin_until(lambda: camera.get_subscription_count() == 1 and node.pub.get_subscription_count() == 1)
    clock = StepClock(0.1)
    inputs = [((48, 64, 3), "rgb8"), ((120, 160, 3), "bgr8"), ((30, 30), "mono8"), ((16, 16, 3), "rgb8")]
    for t, (shape, encoding) in enumerate(inputs):
        colour = [10 * t + 1, 2, 3]
        frame = (np.full(shape, colour[0], np.uint8) if encoding == "mono8"
                 else np.broadcast_to(np.array(colour, np.uint8), shape).copy())
        camera.publish(numpy_to_image(frame, clock.stamp(1, t), "cam", encoding))
        assert ros.spin_until(lambda: len(out) == t + 1), (shape, encoding)
        msg = out[-1]
        assert (msg.width, msg.height, msg.encoding) == (16, 16, "rgb8")
        assert clock.identity(msg.header.stamp) == (1, t) and msg.header.frame_id == "cam"
        pixel = image_to_numpy(msg)[8, 8].tolist()
        expected = {"rgb8": colour, "bgr8": colour[::-1], "mono8": [colour[0]] * 3}[encoding]
        assert pixel == expected, encoding

    short = frame_msg((8, 8, 3), "rgb8", clock.stamp(1, 5), 0)
    short.data = short.data[:-1]
    unsupported = frame_msg((8, 8), "mono8", clock.stamp(1, 6), 0)
    unsupported.encoding = "16UC1"
    for t, bad in enumerate([short, unsupported]):
        camera.publish(bad)
        assert ros.spin_until(lambda: node.dropped == t + 1)
    camera.publish(frame_msg((8, 8, 3), "rgb8", clock.stamp(1, 7), 5))
    assert ros.spin_until(lambda: len(out) == len(inputs) + 1)  # still running
    assert clock.identity(out[-1].header.stamp) == (1, 7)


def test_node_crop_box_that_the_frame_cannot_hold_drops_the_frame(ros) -> None:
    params = [Parameter("size", value=4), Parameter("crop", value=[8, 0, 8, 8]), Parameter("square", value=False)]
    node = ros.add(Observation(context=ros.context, parameter_overrides=params))
    probe = ros.node("probe")
    out: list[Image] = []
    probe.create_subscription(Image, "jsrl/obs/image", out.append, SENSOR)
    camera = probe.create_publisher(Image, "camera/image_raw", SENSOR)
    assert ros.spin_until(lambda: camera.get_subscription_count() == 1 and node.pub.get_subscription_count() == 1)
    frame = np.zeros((8, 16, 3), np.uint8)
    frame[:, 8:] = (0, 200, 0)  # the crop box is the right half
    camera.publish(numpy_to_image(frame, Time(sec=1)))
    assert ros.spin_until(lambda: len(out) == 1)
    assert (image_to_numpy(out[0]) == (0, 200, 0)).all()
    camera.publish(numpy_to_image(np.zeros((8, 12, 3), np.uint8), Time(sec=2)))
    assert ros.spin_until(lambda: node.dropped == 1)
