"""The fuzz harness's own parts, without a graph: stamps, strategies, the arm check, the catalogue, the bench's CLI."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from sensor_msgs.msg import Image, JointState

from jsrl_bench.cli.main import main
from jsrl_bench.fuzz import strategies as S
from jsrl_bench.fuzz.arm_check import ArmCommandCheck, ArmLimits
from jsrl_bench.fuzz.attack import draw_shots
from jsrl_bench.fuzz.catalogue import CATALOGUES, Context
from jsrl_bench.fuzz.files import make_bad_files
from jsrl_bench.fuzz.stamps import Stamp, StepNow, current
from jsrl_ros.contract.step_clock import StepClock

CLOCK = StepClock(0.1)
NOW = StepNow(episode=7, step=3)
DT_NS = CLOCK.dt_ns


def test_relative_stamps_land_on_the_live_step_and_its_neighbours() -> None:
    assert CLOCK.identity(current().resolve(NOW, DT_NS)) == (7, 3)
    assert CLOCK.identity(current(1).resolve(NOW, DT_NS)) == (7, 4)
    assert CLOCK.identity(Stamp("relative", episodes=50, from_start=True).resolve(NOW, DT_NS)) == (57, 0)
    off_grid = Stamp("relative", extra_ns=1234).resolve(NOW, DT_NS)
    with pytest.raises(ValueError):
        CLOCK.identity(off_grid)


def test_absolute_and_out_of_range_stamps_stay_representable() -> None:
    negative = Stamp("absolute", sec=-10_000).resolve(NOW, DT_NS)
    assert negative.sec == -10_000
    assert Stamp("relative", episodes=10**9).resolve(NOW, DT_NS).sec == 2**31 - 1  # clamped, still a Time
    assert Stamp("absolute", nanosec=2**32 - 1).resolve(NOW, DT_NS).nanosec == 2**32 - 1  # nanosec >= 1e9: malformed


def test_draws_are_reproducible_per_seed_and_varied() -> None:
    names = [f"s{i}" for i in range(6)]
    first = [str(s) for s in draw_shots(S.named_vectors(names), 20, seed=3)]
    assert first == [str(s) for s in draw_shots(S.named_vectors(names), 20, seed=3)]
    assert first != [str(s) for s in draw_shots(S.named_vectors(names), 20, seed=4)]
    assert len(first) == 20 and len(set(first)) > 10


def test_named_vectors_cover_every_fault() -> None:
    names = ["dx", "dy", "dz", "dyaw", "gripper"]
    shots = draw_shots(S.named_vectors(names), 200, seed=0)
    assert {s.fault for s in shots} == set(S.VECTOR_FAULTS)
    assert any(list(s.msg.name) != names for s in shots)
    assert any(len(s.msg.position) != len(s.msg.name) for s in shots)
    assert any(not all(map(math.isfinite, s.msg.position)) for s in shots)
    assert any(s.stamp.kind == "absolute" and s.stamp.sec < 0 for s in shots)
    well_formed = [s for s in shots if s.fault == "none"]
    assert well_formed and all(list(s.msg.name) == names and all(-1 <= v <= 1 for v in s.msg.position)
                               for s in well_formed)


def test_images_include_wrong_encodings_sizes_steps_and_clean_frames_of_another_size() -> None:
    shots = draw_shots(S.images(64, 64), 200, seed=0)
    assert all(isinstance(s.msg, Image) for s in shots)
    encodings = {s.msg.encoding for s in shots}
    assert {"rgb8", "16UC1"} <= encodings or len(encodings - {"rgb8"}) >= 3
    assert any(s.msg.step != s.msg.width * S.ENCODING_BYTES.get(s.msg.encoding, 3) for s in shots)
    clean_other = [s for s in shots if s.fault == "other_size" and s.msg.encoding == "rgb8"
                   and len(s.msg.data) == s.msg.width * s.msg.height * 3 and (s.msg.width, s.msg.height) != (64, 64)]
    assert clean_other
    assert all(len(s.msg.data) <= S.MAX_IMAGE_BYTES for s in shots)


def test_driver_topics_get_only_commands_a_driver_must_refuse() -> None:
    for shot in draw_shots(S.twists(stamped=True, rejectable=True), 50, seed=0):
        t = shot.msg.twist
        assert not all(map(math.isfinite, (t.linear.x, t.linear.y, t.linear.z, t.angular.z)))
    for shot in draw_shots(S.float64_arrays(2, rejectable=True), 50, seed=0):
        assert len(shot.msg.data) != 2 or not all(map(math.isfinite, shot.msg.data))
    joints = ["x", "y", "z", "yaw"]
    for shot in draw_shots(S.trajectories(joints, rejectable=True), 50, seed=0):
        m = shot.msg
        assert (list(m.joint_names) != joints or not m.points or len(m.points[-1].positions) != 4
                or not all(map(math.isfinite, m.points[-1].positions)))


LIMITS = ArmLimits(("x", "y", "z", "yaw"), (0.39, -0.16, 0.005, -1.5708), (0.71, 0.16, 0.3, 1.5708),
                   (0.5, 0.5, 0.5, 3.0), (0.01, 0.01, 0.01, 0.05), ((0.04, 0.04), (0.0, 0.0)))


def test_the_arm_check_accepts_safe_commands() -> None:
    check = ArmCommandCheck(LIMITS)
    check.twist((0.5, -0.2, 0.0), (0.0, 0.0, -3.0))
    check.trajectory(["x", "y", "z", "yaw"], [([0.55, 0.0, 0.25, 0.0], 0.1)])
    check.gripper([0.04, 0.04])
    check.measured(["x", "y", "z", "yaw", "finger_left", "finger_right"], [0.715, 0.0, 0.25, 0.0, 0.04, 0.04])
    assert check.count == 0 and check.checked["twist"] == check.checked["measured"] == 1


@pytest.mark.parametrize("feed", [
    lambda c: c.twist((math.nan, 0.0, 0.0), (0.0, 0.0, 0.0)),
    lambda c: c.twist((0.0, 0.6, 0.0), (0.0, 0.0, 0.0)),
    lambda c: c.twist((0.0, 0.0, 0.0), (math.inf, 0.0, 0.0)),
    lambda c: c.trajectory(["x", "y", "z", "yaw"], [([0.8, 0.0, 0.25, 0.0], 0.1)]),
    lambda c: c.trajectory(["x", "y", "z", "yaw"], [([0.55, 0.0, math.nan, 0.0], 0.1)]),
    lambda c: c.trajectory(["a", "b", "c", "d"], [([0.55, 0.0, 0.25, 0.0], 0.1)]),
    lambda c: c.gripper([0.5, 0.5]),
    lambda c: c.measured(["x", "y", "z", "yaw"], [5.07, 0.0, 0.1, 0.0]),  # issue 11: the arm 4.36 m out of its box
])
def test_the_arm_check_flags_unsafe_commands_and_positions(feed) -> None:
    check = ArmCommandCheck(LIMITS)
    feed(check)
    assert check.count == 1 and check.violations


def test_the_catalogue_has_a_strategy_for_every_topic_and_the_known_probes(tmp_path: Path) -> None:
    ctx = Context(action_names=["dx", "dy", "dz", "dyaw", "gripper"], state_names=[f"s{i}" for i in range(7)],
                  joints=["x", "y", "z", "yaw", "finger_left", "finger_right"],
                  joints_at=[0.55, 0.0, 0.25, 0.0, 0.04, 0.04], paths=make_bad_files(tmp_path / "files"),
                  node_cwd=tmp_path)
    for graph, catalogue in CATALOGUES.items():
        topics = catalogue()
        assert len({t.topic for t in topics}) == len(topics), graph
        for topic in topics:
            shots = topic.regressions(ctx) + draw_shots(topic.shots(ctx), 5, seed=0)
            assert shots and all(isinstance(s.msg, topic.msg_type) for s in shots), topic.topic
    real_arm = {t.topic: t for t in CATALOGUES["real_arm"]()}
    e50 = [s for s in real_arm["jsrl/state"].regressions(ctx) if s.stamp.episodes == 50]
    assert e50 and isinstance(e50[0].msg, JointState)


def test_path_topics_name_only_the_harness_files(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    ctx = Context(action_names=["a"], state_names=["s0"], paths=make_bad_files(tmp_path / "files"), node_cwd=tmp_path)
    topic = next(t for t in CATALOGUES["grasping_sim"]() if t.topic == "jsrl/episode_bag")
    for shot in draw_shots(topic.shots(ctx), 200, seed=0):
        path = shot.msg.data
        assert path in ctx.paths or path == "" or not (os.path.lexists(path) or os.path.lexists(tmp_path / path)), path


def test_the_fuzz_bench_refuses_a_non_json_out(tmp_path: Path) -> None:
    assert main(["bench", "fuzz", "--out", str(tmp_path / "fuzz.txt")]) != 0
    assert not (tmp_path / "fuzz.txt").exists()
