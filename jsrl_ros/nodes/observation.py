"""Observation node: any camera stream -> the learner's S×S rgb8 observation image.

Thin adapter over :class:`jsrl_ros.camera_processing.ImageProcessor`, the same code for the
simulated and the real camera. The input's header (stamp = step identity, frame) is copied,
so the image still joins its step exactly downstream. One camera feeds it, and one observation
node publishes (:class:`GraphWatch`).
"""
from __future__ import annotations

from sensor_msgs.msg import Image

from jsrl_learning.config import ConfigError
from jsrl_ros.camera_processing import ImageProcessor
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, numpy_to_image
from jsrl_ros.contract.qos import SENSOR
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node


class Observation(CheckedNode):
    def __init__(self, **node_kwargs) -> None:
        super().__init__("observation", **node_kwargs)
        size = self.declare_parameter("size", 64).value
        crop = self.declare_parameter("crop", [0, 0, 0, 0]).value
        square = self.declare_parameter("square", True).value
        try:
            self.processor = ImageProcessor(size=size, crop=tuple(crop), square=square)
        except ValueError as exc:
            raise ConfigError(f"{self.get_name()} parameters: {exc}") from exc
        self.dropped = self.published = 0
        self.pub = self.create_publisher(Image, topics.OBS_IMAGE, SENSOR)
        self.create_subscription(Image, topics.CAMERA_IMAGE, self.on_image, SENSOR)
        self.health = Health()
        self.watch = GraphWatch(self, self.health)
        self.watch.expect(topics.CAMERA_IMAGE)
        self.watch.own([topics.OBS_IMAGE])
        publish_counters(self, lambda: {"dropped": self.dropped, "published": self.published,
                                        "foreign": self.watch.detections}, health=self.health)

    def on_image(self, msg: Image) -> None:
        try:
            image = self.processor(image_to_numpy(msg), msg.encoding)
        except MalformedMessage as exc:
            self.dropped += 1
            self.get_logger().warning(f"camera/image_raw: dropped a frame: {exc} ({self.dropped} dropped so far)",
                                      throttle_duration_sec=2.0)
            return
        self.pub.publish(numpy_to_image(image, msg.header.stamp, msg.header.frame_id))
        self.published += 1


def main(argv: list[str] | None = None) -> int:
    return spin_node(Observation, argv)


if __name__ == "__main__":
    raise SystemExit(main())
