"""Viewer node: the browser view for a human guide, on a headless machine (docs/human_guide.md).

Thin adapter from topics to :class:`jsrl_ros.guide_view.GuideView`: the camera
(``camera_topic``), ``jsrl/control_owner``, ``jsrl/guide_step``, ``jsrl/episode_info`` and
``jsrl/episode_summary``. It serves rerun's gRPC stream on ``grpc_port`` and rerun's web viewer on
``web_port`` and logs the URL to open (``host`` names this machine in it). A handover is logged
the moment it arrives; the banner and camera frames (the latest one) at most ``max_fps`` times
a second, so a sim stepping at full speed or a 30 fps camera costs the viewer, not the graph.
The server keeps the last ``memory_limit`` of data for a browser that connects late (which
replays it, then follows live). It only listens: nothing in the graph depends on it.
"""
from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

import numpy as np
import rerun as rr
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Int32, String

from jsrl_learning.config import ConfigError, require
from jsrl_ros.camera_processing import to_rgb
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, image_to_numpy, named_vector_values
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.guide_view import GuideView, blueprint
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.diagnostics import Health, publish_counters
from jsrl_ros.runtime.spin import spin_node


class Viewer(CheckedNode):
    """Subscribes and logs from construction; ``serve`` opens the ports (``main`` does both)."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("viewer", **node_kwargs)
        where = f"{self.get_name()} parameters"
        self.web_port = self.declare_parameter("web_port", 9090).value
        self.grpc_port = self.declare_parameter("grpc_port", 9876).value
        self.host = self.declare_parameter("host", "localhost").value
        self.memory_limit = self.declare_parameter("memory_limit", "256MiB").value
        camera_topic = self.declare_parameter("camera_topic", topics.CAMERA_IMAGE).value
        max_fps = self.declare_parameter("max_fps", 10.0).value
        success_window = self.declare_parameter("success_window", 20).value
        dt = self.declare_parameter("dt", 0.1).value
        for name, port in (("web_port", self.web_port), ("grpc_port", self.grpc_port)):
            require(0 < port < 65536, where, f"{name} must be a TCP port (1-65535), got {port}")
        require(self.web_port != self.grpc_port, where, f"web_port and grpc_port are both {self.web_port}")
        require(max_fps > 0, where, f"max_fps must be > 0, got {max_fps}")
        require(success_window >= 1, where, f"success_window must be >= 1 episode, got {success_window}")
        try:
            self.clock = StepClock(dt)
        except ValueError as exc:
            raise ConfigError(f"{where}: dt: {exc}") from exc

        self.recording = rr.RecordingStream("jsrl_guide_view")
        self.view = GuideView(self.recording, self._now(), success_window)
        self.frame: Image | None = None  # the latest camera frame not shown yet
        self.frames = self.dropped = self.episodes = 0
        self.create_subscription(Image, camera_topic, self.on_image, SENSOR)
        self.create_subscription(String, topics.CONTROL_OWNER, self.on_owner, LATCHED)
        self.create_subscription(Int32, topics.GUIDE_STEP, self.on_guide_step, LATCHED)
        self.create_subscription(JointState, topics.EPISODE_INFO, self.on_info, RELIABLE)
        self.create_subscription(JointState, topics.EPISODE_SUMMARY, self.on_summary, RELIABLE)
        self.create_timer(1.0 / max_fps, self.on_tick)
        self.health = Health()
        publish_counters(self, lambda: {"frames": self.frames, "handovers": self.view.handovers,
                                        "episodes": self.episodes, "dropped": self.dropped}, health=self.health)

    def serve(self) -> Viewer:
        """Serve the recording (gRPC) and the web viewer; log the URL. A port in use is a ConfigError."""
        where = f"{self.get_name()} parameters"
        for name, port in (("grpc_port", self.grpc_port), ("web_port", self.web_port)):
            require(port_free(port), where, f"{name} {port} is in use (another viewer?); choose another")
        origin = f"http://{self.host}:{self.web_port}"
        self.recording.serve_grpc(grpc_port=self.grpc_port, default_blueprint=blueprint(),
                                  server_memory_limit=self.memory_limit, cors_allow_origin=[origin])
        stream = f"rerun+http://{self.host}:{self.grpc_port}/proxy"
        rr.serve_web_viewer(web_port=self.web_port, open_browser=False, connect_to=stream)
        self.get_logger().info(f"the guide's view: open {origin}/?url={quote(stream, safe='')}")
        return self

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _drop(self, topic: str, exc: Exception) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped ({exc}; {self.dropped} so far)", throttle_duration_sec=2.0)

    def on_image(self, msg: Image) -> None:
        self.frame = msg

    def on_tick(self) -> None:
        self.view.show_banner(self._now())
        msg, self.frame = self.frame, None
        if msg is None:
            return
        try:
            rgb = to_rgb(image_to_numpy(msg), msg.encoding)
        except MalformedMessage as exc:
            return self._drop("camera", exc)
        try:
            identity: tuple[int, int] | None = self.clock.identity(msg.header.stamp)
        except ValueError:
            identity = None  # a camera off the step clock: no countdown
        self.view.camera(np.ascontiguousarray(rgb), self._now(), identity)
        self.frames += 1

    def on_owner(self, msg: String) -> None:
        try:
            self.view.control(msg.data, self._now())
        except ValueError as exc:
            self._drop(topics.CONTROL_OWNER, exc)

    def on_guide_step(self, msg: Int32) -> None:
        self.view.guide_step(msg.data, self._now())

    def on_info(self, msg: JointState) -> None:
        try:
            episode, guide_step, evaluation = named_vector_values(msg, EPISODE_INFO_NAMES)
        except MalformedMessage as exc:
            return self._drop(topics.EPISODE_INFO, exc)
        self.view.episode(int(episode), int(guide_step), bool(evaluation), self._now())

    def on_summary(self, msg: JointState) -> None:
        try:
            _, guide_step, _, _, success, _ = named_vector_values(msg, EPISODE_SUMMARY_NAMES)
        except MalformedMessage as exc:
            return self._drop(topics.EPISODE_SUMMARY, exc)
        self.view.summary(int(guide_step), bool(success), self._now())
        self.episodes += 1


def port_free(port: int) -> bool:
    """Whether a TCP server can listen on ``port`` (rerun's gRPC server only logs a failure, later)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    return spin_node(lambda: Viewer().serve(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
