"""Hypothesis strategies: malformed messages of every type the graphs subscribe to.

Each strategy draws a :class:`Shot`: a message and, for stamped types, a :class:`Stamp`
resolved when it is published. Most draws first pick *one* fault (names, length, values,
stamp, encoding, size, ...) and keep everything else well formed — why: a message that is
wrong everywhere is rejected by the first check a node makes, while one that is right but
for its stamp (episode e + 50) or its size (a clean rgb8 32x32 frame) is what reaches the
code behind the checks. A ``"none"`` fault draws a well-formed message from a foreign
publisher: the second-publisher attacks of issue 11.

Large payloads (images, long lists) are built from a few drawn numbers rather than drawn
byte by byte, so hypothesis stays fast and within its buffer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from hypothesis import strategies as st
from sensor_msgs.msg import Image, JointState, Joy
from std_msgs.msg import Bool, Float64, Float64MultiArray, Int32, Int32MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jsrl_bench.fuzz.stamps import INT32_MAX, INT32_MIN, UINT32_MAX, Stamp, any_stamps, hostile_stamps, valid_stamps

NAN, INF = math.nan, math.inf
SPECIAL_FLOATS = (NAN, INF, -INF, 1e308, -1e308, 5e-324, -0.0, 1e20, -1e20, 2.0, -2.0)
ENCODING_BYTES = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4, "16UC1": 2, "mono16": 2,
                  "32FC1": 4, "8UC3": 3, "bayer_rggb8": 1, "yuv422": 2}
MAX_IMAGE_BYTES = 256 * 256 * 4  # well-formed frames of any size up to this; larger ones are declared, not sent


@dataclass
class Shot:
    """One message to publish; ``stamp`` (stamped types) is resolved against the live loop when it goes out."""

    msg: Any
    stamp: Stamp | None = None
    fault: str = ""

    def __str__(self) -> str:
        stamp = f" @ {self.stamp}" if self.stamp is not None else ""
        return f"[{self.fault}] {describe(self.msg)}{stamp}"


def describe(msg: Any) -> str:
    """A short, readable form of a message (images without their pixels) for reports."""
    if isinstance(msg, Image):
        return (f"Image({msg.width}x{msg.height} {msg.encoding!r} step {msg.step} "
                f"{len(msg.data)} bytes{' bigendian' if msg.is_bigendian else ''})")
    if isinstance(msg, JointState):
        extra = "".join(f" {k}={len(getattr(msg, k))}" for k in ("velocity", "effort") if len(getattr(msg, k)))
        return f"JointState(name={_short(list(msg.name))}, position={_short(list(msg.position))}{extra})"
    if isinstance(msg, (Int32MultiArray, Float64MultiArray)):
        return f"{type(msg).__name__}(data={_short(list(msg.data))})"
    if isinstance(msg, String):
        return f"String({_short(msg.data)})"
    if isinstance(msg, Joy):
        return f"Joy(axes={_short(list(msg.axes))}, buttons={_short(list(msg.buttons))})"
    if isinstance(msg, JointTrajectory):
        points = [(_short(list(p.positions)), p.time_from_start.sec) for p in msg.points]
        return f"JointTrajectory(joints={list(msg.joint_names)}, points={_short(points)})"
    return repr(msg) if len(repr(msg)) < 300 else repr(msg)[:300] + "..."


def _short(value: Any, limit: int = 8) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else f"{value[:40]!r}... ({len(value)} chars)"
    if isinstance(value, list) and len(value) > limit:
        return f"[{', '.join(map(str, value[:limit]))}, ... ({len(value)} items)]"
    return str(value)


# --- numbers --------------------------------------------------------------------------------


def hostile_floats() -> st.SearchStrategy[float]:
    """NaN, +-inf, +-1e308, subnormal, -0.0, and any float at all."""
    return st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))


def plausible_floats(low: float = -1.0, high: float = 1.0) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def float32s() -> st.SearchStrategy[float]:
    """float32 fields (Joy axes) cannot hold 1e308; their hostile values are NaN, inf and float32's extremes."""
    return st.one_of(st.sampled_from([NAN, INF, -INF, 3.4e38, -3.4e38, 1e-45]), st.floats(width=32))


def int32s() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([0, -1, 1, INT32_MIN, INT32_MAX]), st.integers(INT32_MIN, INT32_MAX))


def texts() -> st.SearchStrategy[str]:
    """Text, empty, unicode, and 100k characters (built, not drawn)."""
    return st.one_of(st.text(max_size=40), st.just(""), st.integers(1000, 100_000).map(lambda n: "x" * n))


# --- sensor_msgs/JointState as a named vector --------------------------------------------------

VECTOR_FAULTS = ("none", "stamp", "stamp", "names", "length", "values", "extras", "many")


def _wrong_names(names: Sequence[str]) -> st.SearchStrategy[list[str]]:
    names = list(names)
    variants = [list(reversed(names)), names[:-1], names + ["extra"], [], [n.upper() for n in names]]
    return st.one_of(st.sampled_from([v for v in variants if v != names]), st.lists(st.text(max_size=8), max_size=12))


@st.composite
def named_vectors(draw: st.DrawFn, names: Sequence[str], low: float = -1.0, high: float = 1.0,
                  around: Sequence[float] | None = None) -> Shot:
    """A stamped named vector (docs/topics.md) with one fault; ``low``/``high``: the plausible range of
    its values, ``around``: plausible values are offsets from these (a second publisher's readings)."""
    fault = draw(st.sampled_from(VECTOR_FAULTS))
    many = fault == "many"
    chosen = draw(_wrong_names(names)) if fault == "names" or (many and draw(st.booleans())) else list(names)
    size = len(chosen)
    if fault == "length" or many:
        size = draw(st.one_of(st.integers(0, len(chosen) + 3), st.just(10_000)))
    if fault == "values" or many:
        values = [draw(st.one_of(hostile_floats(), plausible_floats(low, high))) for _ in range(min(size, 64))]
        values += [draw(hostile_floats())] * (size - len(values))
    elif around is not None:
        values = [float(a) + draw(plausible_floats(low, high)) for a in list(around)[:size]]
        values += [0.0] * (size - len(values))
    else:
        values = [draw(plausible_floats(low, high)) for _ in range(size)]
    msg = JointState(name=chosen, position=values)
    if fault == "extras" or (many and draw(st.booleans())):
        msg.velocity = [draw(hostile_floats()) for _ in range(draw(st.integers(1, 4)))]
        msg.effort = [draw(hostile_floats()) for _ in range(draw(st.integers(0, 4)))]
        msg.header.frame_id = draw(texts())
    stamp = draw(hostile_stamps() if fault == "stamp" else any_stamps() if many else valid_stamps())
    return Shot(msg, stamp, fault)


# --- sensor_msgs/Image --------------------------------------------------------------------------

IMAGE_FAULTS = ("none", "stamp", "encoding", "size", "step", "data", "other_size", "other_encoding", "many")


@st.composite
def images(draw: st.DrawFn, width: int, height: int, encoding: str = "rgb8") -> Shot:
    """An image of ``width`` x ``height`` ``encoding`` with one fault. ``other_size`` / ``other_encoding``
    are *well-formed* frames of another size or encoding (rgb8 32x32, 16UC1): valid images the
    receiver was not built for."""
    fault = draw(st.sampled_from(IMAGE_FAULTS))
    many = fault == "many"
    enc, w, h = encoding, width, height
    if fault in ("encoding", "other_encoding") or many:
        enc = draw(st.one_of(st.sampled_from(sorted(ENCODING_BYTES)), st.just(""), st.text(max_size=12)))
    if fault in ("size", "other_size") or many:
        w, h = draw(st.one_of(st.sampled_from([(32, 32), (1, 1), (0, 0), (0, 64), (64, 0), (80, 60), (640, 480),
                                               (3, 2000), (256, 256)]),
                              st.tuples(st.integers(0, 300), st.integers(0, 300))))
    row = w * ENCODING_BYTES.get(enc, 3)
    step, size = row, row * h
    if fault == "step" or many:
        step = draw(st.one_of(st.sampled_from([0, max(row - 1, 0), row + 1, row * 2, UINT32_MAX]),
                              st.integers(0, UINT32_MAX)))
    if fault == "data" or many:
        size = draw(st.one_of(st.sampled_from([0, 1, max(size - 1, 0), size + 1, size * 2]), st.integers(0, 4096)))
    if fault == "size" and draw(st.booleans()):  # a header that claims a huge frame over a tiny buffer
        w, h = draw(st.sampled_from([(UINT32_MAX, UINT32_MAX), (2**31, 1), (1, 2**31), (100_000, 100_000)]))
        step, size = draw(st.sampled_from([0, 3, UINT32_MAX])), draw(st.integers(0, 64))
    size = min(size, MAX_IMAGE_BYTES)
    fill = draw(st.integers(0, 255))
    msg = Image(width=w, height=h, encoding=enc, step=step, is_bigendian=draw(st.sampled_from([0, 0, 1, 255])) if many
                else 0, data=bytes([fill]) * size)
    stamp = draw(hostile_stamps() if fault == "stamp" else any_stamps() if many else valid_stamps())
    return Shot(msg, stamp, fault)


# --- std_msgs -------------------------------------------------------------------------------------


def float64s() -> st.SearchStrategy[Shot]:
    return st.one_of(hostile_floats(), plausible_floats(-1e3, 1e3)).map(lambda v: Shot(Float64(data=v), None, "value"))


def bools() -> st.SearchStrategy[Shot]:
    return st.booleans().map(lambda v: Shot(Bool(data=v), None, "value"))


def int32_values() -> st.SearchStrategy[Shot]:
    return int32s().map(lambda v: Shot(Int32(data=v), None, "value"))


def int32_arrays() -> st.SearchStrategy[Shot]:
    """Empty, negative, int32 extremes, and 10k-long lists."""
    lists = st.one_of(st.lists(int32s(), max_size=12), st.just([]),
                      st.tuples(int32s(), st.integers(1000, 10_000)).map(lambda vn: [vn[0]] * vn[1]))
    return lists.map(lambda data: Shot(Int32MultiArray(data=data), None, "value"))


def strings(*special: str, safe: Callable[[str], bool] = lambda s: True) -> st.SearchStrategy[Shot]:
    """Any text, plus ``special`` values the receiver knows (labels, owner names, file paths).
    ``safe``: a filter for drawn text (a path topic must not name files outside the harness's own)."""
    special_values = st.sampled_from(list(special)) if special else st.nothing()
    return st.one_of(special_values, special_values, texts().filter(safe)).map(
        lambda s: Shot(String(data=s), None, "value"))


@st.composite
def float64_arrays(draw: st.DrawFn, length: int = 2, low: float = 0.0, high: float = 0.04,
                   rejectable: bool = False) -> Shot:
    """Arrays of any length and hostile values. ``rejectable``: only arrays a receiver must refuse —
    the wrong length, or the right one with a non-finite entry (built so, not filtered)."""
    values = st.one_of(hostile_floats(), plausible_floats(low, high))
    if not rejectable:
        data = draw(st.one_of(st.lists(values, max_size=6),
                              st.lists(plausible_floats(low, high), min_size=length, max_size=length)))
    elif draw(st.booleans()):
        data = draw(st.lists(values, max_size=6).filter(lambda v: len(v) != length))
    else:
        data = draw(st.lists(values, min_size=length, max_size=length))
        data[draw(st.integers(0, length - 1))] = draw(st.sampled_from([NAN, INF, -INF]))
    return Shot(Float64MultiArray(data=data), None, "value")


# --- geometry_msgs, sensor_msgs/Joy, trajectory_msgs ------------------------------------------------


@st.composite
def twists(draw: st.DrawFn, stamped: bool = False, rejectable: bool = False) -> Shot:
    """A (stamped) twist: plausible speeds or hostile values per component. ``rejectable``: at least
    one used component (linear x, y, z, angular z) is not finite — what a driver must refuse."""
    values = [draw(st.one_of(plausible_floats(-2.0, 2.0), hostile_floats())) for _ in range(6)]
    if rejectable and all(math.isfinite(values[i]) for i in (0, 1, 2, 5)):
        values[draw(st.sampled_from([0, 1, 2, 5]))] = draw(st.sampled_from([NAN, INF, -INF]))
    twist = Twist()
    (twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.x, twist.angular.y, twist.angular.z) = values
    if not stamped:
        return Shot(twist, None, "values")
    msg = TwistStamped(twist=twist)
    msg.header.frame_id = draw(st.sampled_from(["", "base_link", "nowhere"]))
    return Shot(msg, draw(any_stamps()), "values")


@st.composite
def joys(draw: st.DrawFn, deadman_button: int = 4) -> Shot:
    """Axes and buttons of any length; hostile float32 axes; the deadman pressed or not."""
    axes = draw(st.lists(st.one_of(float32s(), plausible_floats()), max_size=12))
    buttons = draw(st.lists(st.sampled_from([0, 1, 1, -1, INT32_MAX, INT32_MIN]), max_size=16))
    if draw(st.booleans()) and len(buttons) > deadman_button:
        buttons[deadman_button] = 1  # held: the axes reach the guide
    return Shot(Joy(axes=axes, buttons=buttons), draw(any_stamps()), "values")


@st.composite
def poses(draw: st.DrawFn) -> Shot:
    msg = PoseStamped()
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z, q.x, q.y, q.z, q.w = (draw(st.one_of(plausible_floats(), hostile_floats())) for _ in range(7))
    return Shot(msg, draw(any_stamps()), "values")


@st.composite
def trajectories(draw: st.DrawFn, joints: Sequence[str], rejectable: bool = False) -> Shot:
    """One-point (or empty, or many-point) joint trajectories. ``rejectable``: wrong joint names, no
    point, a wrong length or a non-finite position — what a controller must refuse."""
    names = draw(st.one_of(st.just(list(joints)), _wrong_names(joints)))
    points = []
    for _ in range(draw(st.sampled_from([1, 1, 0, 2]))):
        positions = draw(st.lists(st.one_of(plausible_floats(-1.0, 1.0), hostile_floats()), max_size=6))
        points.append(JointTrajectoryPoint(positions=positions, time_from_start=Duration(
            sec=draw(int32s()), nanosec=draw(st.integers(0, UINT32_MAX)))))
    msg = JointTrajectory(joint_names=names, points=points)
    if rejectable and names == list(joints) and points and len(points[-1].positions) == len(joints) \
            and all(map(math.isfinite, points[-1].positions)):
        points[-1].positions[draw(st.integers(0, len(joints) - 1))] = NAN
    return Shot(msg, draw(any_stamps()), "values")
