"""The guide's view in a real browser: headless Chromium opens the viewer node's URL while a
scripted stand-in for the human guide's session runs, and the screenshots show the camera frame
and who is in control.

The stand-in publishes what the graph publishes during an episode with h = 3: camera frames
stamped on the step clock (a magenta/cyan test card, so the frame is found by its pixels),
``jsrl/control_owner`` "guide" for steps 0-2, then "explorer" from step 3, the guide-step,
episode info and summaries. rerun draws on a canvas (no DOM text), so the checks count pixels
of the test card's colours and of the banner's green (guide) or orange (explorer).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from browser import Browser, chromium_available, pixels_near
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Int32, String

from jsrl_ros.contract.conversions import named_vector, numpy_to_image
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.guide_view import EXPLORER_ORANGE, GUIDE_GREEN
from jsrl_ros.runtime.diagnostics import counters_of

REPO = Path(__file__).resolve().parents[1]
VIEWER = Path(sys.prefix) / "lib" / "jsrl_ros" / "viewer"
MAGENTA, CYAN = (230, 0, 230), (0, 200, 255)
BANNER_PIXELS = 20_000  # the banner fills its panel: ~100k px at 1280x800; a plot line or legend is < 2k
CARD_PIXELS = 5_000  # each half of the test card, scaled up into the camera panel
H = 3

pytestmark = [
    pytest.mark.skipif(not chromium_available(), reason="Debian's chromium is not installed "
                       "(.ci/run installs it: apt-get install chromium)"),
    pytest.mark.skipif(not VIEWER.is_file(), reason="package not installed (run scripts/test.sh)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def card() -> np.ndarray:
    card = np.empty((96, 96, 3), np.uint8)
    card[:, :48], card[:, 48:] = MAGENTA, CYAN
    return card


class GuideStandIn:
    """Publishes one episode's worth of what the arbiter, bridge, curriculum and recorder publish."""

    def __init__(self, node) -> None:
        self.clock = StepClock(0.1)
        self.camera = node.create_publisher(Image, "camera/image_raw", SENSOR)
        self.owner = node.create_publisher(String, "jsrl/control_owner", LATCHED)
        self.guide_step = node.create_publisher(Int32, "jsrl/guide_step", LATCHED)
        self.info = node.create_publisher(JointState, "jsrl/episode_info", RELIABLE)
        self.summary = node.create_publisher(JointState, "jsrl/episode_summary", RELIABLE)
        self.episode, self.step = 7, 0
        node.create_timer(0.1, self.frame)  # the camera runs on, as a real one does

    def begin(self) -> None:
        self.summary.publish(named_vector(EPISODE_SUMMARY_NAMES, [self.episode - 1, H, 0, 1.0, 1, 9],
                                          self.clock.stamp(self.episode - 1, 0)))
        self.guide_step.publish(Int32(data=H))
        self.info.publish(named_vector(EPISODE_INFO_NAMES, [self.episode, H, 0], self.clock.stamp(self.episode, 0)))
        self.owner.publish(String(data="guide"))

    def hand_over(self) -> None:
        self.step = H
        self.owner.publish(String(data="explorer"))

    def frame(self) -> None:
        self.camera.publish(numpy_to_image(card(), self.clock.stamp(self.episode, self.step)))


class Screen:
    """Screenshots of the page; ``shows`` is a condition to spin on, ``last`` what it last saw."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.last = np.zeros((1, 1, 3), np.uint8)

    def shows(self, banner: tuple[int, int, int], other: tuple[int, int, int]) -> Callable[[], bool]:
        """The test card and a ``banner``-coloured banner, and no ``other``-coloured one."""
        def check() -> bool:
            self.last = shot = self.browser.screenshot()
            return (pixels_near(shot, MAGENTA) >= CARD_PIXELS and pixels_near(shot, CYAN) >= CARD_PIXELS
                    and pixels_near(shot, banner) >= BANNER_PIXELS and pixels_near(shot, other) < BANNER_PIXELS // 4)
        return check

    def save(self, path: Path) -> Path:
        cv2.imwrite(str(path), cv2.cvtColor(self.last, cv2.COLOR_RGB2BGR))
        return path


def test_a_browser_shows_the_live_camera_and_who_is_in_control(ros, tmp_path: Path) -> None:
    start = time.monotonic()
    web, grpc = free_port(), free_port()
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros.context.get_domain_id()),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    viewer = subprocess.Popen([str(VIEWER), "--ros-args", "-p", f"web_port:={web}", "-p", f"grpc_port:={grpc}"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        node = ros.node("guide_stand_in")
        counters: dict[str, dict[str, float]] = {}
        node.create_subscription(DiagnosticArray, "diagnostics", lambda m: counters.update(counters_of(m)), RELIABLE)
        stand_in = GuideStandIn(node)
        assert ros.spin_until(lambda: "viewer" in counters and stand_in.info.get_subscription_count() > 0, 20.0), \
            "the viewer did not come up"
        stand_in.begin()
        with Browser() as browser:
            browser.open(f"http://localhost:{web}/?url=rerun%2Bhttp%3A%2F%2Flocalhost%3A{grpc}%2Fproxy")
            screen = Screen(browser)
            guide_seen = ros.spin_until(screen.shows(GUIDE_GREEN, EXPLORER_ORANGE), 40.0)
            shot = screen.save(tmp_path / "guide.png")
            assert guide_seen, f"no test card and green GUIDE banner: see {shot}"
            stand_in.hand_over()
            explorer_seen = ros.spin_until(screen.shows(EXPLORER_ORANGE, GUIDE_GREEN), 20.0)
            shot = screen.save(tmp_path / "explorer.png")
            assert explorer_seen, f"no orange EXPLORER banner after the handover: see {shot}"
        assert ros.spin_until(lambda: counters["viewer"].get("handovers", 0) >= 2 and
                              counters["viewer"].get("episodes", 0) >= 1, 5.0), counters["viewer"]
        assert counters["viewer"]["dropped"] == 0 and counters["viewer"]["frames"] > 0, counters["viewer"]
    finally:
        viewer.terminate()
        output, _ = viewer.communicate(timeout=20)
    assert f"open http://localhost:{web}/?url=rerun%2Bhttp%3A%2F%2Flocalhost%3A{grpc}%2Fproxy" in output, output
    assert time.monotonic() - start < 90.0
