"""The guide's view without a browser: what it logs (banner, rolling success, countdown), the viewer
node's handling of its topics, and the graph options that add it (view) or open the sim's window (gui).
The browser itself: test_guide_view_browser.py; the windows on a virtual display: test_sim_gui.py.
"""
from __future__ import annotations

import socket

import numpy as np
import pytest
import rerun as rr
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Int32, String

from jsrl_learning.config import ConfigError
from jsrl_ros.bringup.graph import GRAPHS
from jsrl_ros.contract.conversions import named_vector, numpy_to_image
from jsrl_ros.contract.names import EPISODE_INFO_NAMES, EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
from jsrl_ros.contract.step_clock import StepClock
from jsrl_ros.guide_view import (CUES, EXPLORER, EXPLORER_ORANGE, GUIDE, GUIDE_GREEN, GuideView, RollingSuccess, Status,
                                 banner)
from jsrl_ros.nodes.sim_bridge import SimBridge
from jsrl_ros.nodes.viewer import Viewer
from jsrl_ros.runtime.diagnostics import counters_of

CLOCK = StepClock(0.1)


@pytest.mark.parametrize("owner, colour", [(GUIDE, GUIDE_GREEN), (EXPLORER, EXPLORER_ORANGE)])
def test_the_banner_is_the_owners_colour_with_white_words(owner: str, colour: tuple[int, int, int]) -> None:
    image = banner(CUES[owner])
    background = np.all(image == colour, axis=-1).mean()
    white = np.all(image == 255, axis=-1).mean()
    assert background > 0.6 and white > 0.05, (background, white)


def test_rolling_success_is_split_by_who_drove_the_episode() -> None:
    success = RollingSuccess(window=2)
    assert success.add(guide_step=3, success=True) == (GUIDE, 1.0)
    assert success.add(guide_step=0, success=False) == (EXPLORER, 0.0)
    assert success.add(guide_step=1, success=False) == (GUIDE, 0.5)
    assert success.add(guide_step=2, success=False) == (GUIDE, 0.0)  # the window forgets the first
    with pytest.raises(ValueError):
        RollingSuccess(window=0)


def test_the_status_counts_down_to_the_handover() -> None:
    assert "waiting" in Status().markdown()
    assert "3 steps until the explorer takes over" in Status(4, 5, False, 2).markdown()
    assert "1 step until" in Status(4, 5, False, 4).markdown()
    text = Status(4, 5, True, 5).markdown()
    assert "episode 4 (evaluation) · step 5" in text and "the explorer drives" in text


def test_a_handover_is_cued_once_and_unknown_owners_are_refused() -> None:
    view = GuideView(rr.RecordingStream("test_guide_view"), now=0.0)
    assert view.control(GUIDE, 1.0) and not view.control(GUIDE, 1.1)
    view.show_banner(1.1)
    assert view.shown == GUIDE
    assert view.control(EXPLORER, 2.0) and view.handovers == 2 and view.shown == GUIDE  # until the next tick
    view.show_banner(2.1)
    assert view.shown == EXPLORER
    with pytest.raises(ValueError, match="'pilot'"):
        view.control("pilot", 3.0)
    view.episode(5, 2, False, 3.0)
    view.camera(np.zeros((8, 8, 3), np.uint8), 3.1, (5, 1))
    assert view.status.step == 1
    view.camera(np.zeros((8, 8, 3), np.uint8), 3.2, (4, 9))  # a late frame of the last episode: no countdown
    assert view.status.step == 1


def test_the_viewer_node_follows_its_topics_and_drops_what_it_cannot_show(ros) -> None:
    viewer = ros.add(Viewer(context=ros.context, parameter_overrides=[Parameter("max_fps", value=50.0)]))
    probe = ros.node("probe")
    counters: dict[str, dict[str, float]] = {}
    probe.create_subscription(DiagnosticArray, "diagnostics", lambda m: counters.update(counters_of(m)), RELIABLE)
    camera = probe.create_publisher(Image, "camera/image_raw", SENSOR)
    owner = probe.create_publisher(String, "jsrl/control_owner", LATCHED)
    guide_step = probe.create_publisher(Int32, "jsrl/guide_step", LATCHED)
    info = probe.create_publisher(JointState, "jsrl/episode_info", RELIABLE)
    summary = probe.create_publisher(JointState, "jsrl/episode_summary", RELIABLE)
    assert ros.spin_until(lambda: summary.get_subscription_count() > 0 and camera.get_subscription_count() > 0)

    guide_step.publish(Int32(data=4))
    info.publish(named_vector(EPISODE_INFO_NAMES, [2, 4, 0], CLOCK.stamp(2, 0)))
    owner.publish(String(data=GUIDE))
    assert ros.spin_until(lambda: viewer.view.shown == GUIDE and viewer.view.status.episode == 2)
    camera.publish(numpy_to_image(np.zeros((6, 8, 3), np.uint8), CLOCK.stamp(2, 1)))
    assert ros.spin_until(lambda: viewer.frames == 1)
    assert viewer.view.status.step == 1
    owner.publish(String(data=EXPLORER))
    summary.publish(named_vector(EPISODE_SUMMARY_NAMES, [2, 4, 0, 1.0, 1, 6], CLOCK.stamp(2, 0)))
    assert ros.spin_until(lambda: viewer.view.shown == EXPLORER and viewer.episodes == 1)

    owner.publish(String(data="nobody"))
    summary.publish(named_vector(["episode"], [3.0], CLOCK.stamp(3, 0)))
    bad = numpy_to_image(np.zeros((2, 2, 3), np.uint8), CLOCK.stamp(3, 0))
    bad.encoding = "yuv422"
    camera.publish(bad)
    assert ros.spin_until(lambda: counters.get("viewer", {}).get("dropped") == 3, 5.0), counters
    assert counters["viewer"]["handovers"] == 2 and viewer.view.owner == EXPLORER


@pytest.mark.parametrize("values, problem", [({"web_port": 0}, "web_port must be a TCP port"),
                                             ({"grpc_port": 9090}, "both 9090"),
                                             ({"max_fps": 0.0}, "max_fps"), ({"dt": 0.0}, "dt")])
def test_viewer_parameters_are_checked(ros, values: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Viewer(context=ros.context, parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])


def test_a_port_in_use_is_a_configuration_error(ros) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        viewer = Viewer(context=ros.context, parameter_overrides=[Parameter("grpc_port", value=port)])
        with pytest.raises(ConfigError, match=f"grpc_port {port} is in use"):
            viewer.serve()
        viewer.destroy_node()


@pytest.mark.parametrize("name", sorted(n for n, g in GRAPHS.items() if any(o.name == "view" for o in g.options)))
def test_view_adds_the_viewer_and_the_camera_it_shows(name: str) -> None:
    assert "viewer" not in [spec.name for spec in GRAPHS[name].build().nodes]
    headless = {"headless": "true"}
    graph = GRAPHS[name].build(view="true", **headless)
    assert "viewer" in [spec.name for spec in graph.nodes]
    bridge = next(spec for spec in graph.nodes if spec.paces or spec.name == "real_arm_bridge")
    assert bridge.params.get("publish_camera", True), "view:=true needs camera frames even when headless"


@pytest.mark.parametrize("name", ["grasping_sim", "record_demos", "antmaze_sim"])
def test_gui_reaches_the_sim_bridge(name: str) -> None:
    def bridge_params(**options: str) -> dict:
        return next(spec for spec in GRAPHS[name].build(**options).nodes if spec.name == "sim_bridge").params

    assert "gui" not in bridge_params()  # DIRECT stays the default
    assert bridge_params(gui="true")["gui"] is True


def test_the_bridges_gui_parameter_reaches_the_env(ros, monkeypatch) -> None:
    """With no display the env refuses gui=True, and the bridge's error says so: the option got there."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    params = [Parameter("env_kwargs", value="{object_set: shapes, num_objects: 1}"),
              Parameter("action_names", value=["dx", "dy", "dz", "dyaw", "gripper"]), Parameter("gui", value=True)]
    with pytest.raises(ConfigError, match="'gui': True.*no display.*view:=true"):
        SimBridge(context=ros.context, parameter_overrides=params)
