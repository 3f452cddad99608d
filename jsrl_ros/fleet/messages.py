"""Frames (jsrl_ros/fleet/wire.py) in and out of ``std_msgs/UInt8MultiArray``, and the fleet topics' QoS.

The gateway nodes use these and nothing else of ROS to talk across hosts. ``layout`` stays
empty: the frame carries its own header. The fleet topics' names are in jsrl_ros/contract/topics.py.
"""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import UInt8MultiArray


def frame_message(frame: bytes) -> UInt8MultiArray:
    msg = UInt8MultiArray()
    msg.data = frame  # rclpy turns bytes into its array in one copy
    return msg


def message_frame(msg: UInt8MultiArray) -> memoryview:
    return memoryview(msg.data).cast("B")


def episodes_qos(window: int) -> QoSProfile:
    """Reliable, volatile, as deep as the frames a sender keeps in flight (the outbox, not the
    middleware, keeps what must survive: a frame lost in the writer's history is re-sent)."""
    return QoSProfile(depth=max(1, window), history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


#: Acknowledgements: small, reliable; a lost one only makes the actor send the episode again.
ACKS_QOS = QoSProfile(depth=200, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def weights_qos(max_checkpoint_mib: int, chunk_kib: int) -> QoSProfile:
    """Latched with room for every chunk of the largest checkpoint: a late-joining actor gets the whole
    current checkpoint (and perhaps the tail of the one before, which it drops as stale). Broadcaster and
    receivers must agree on both numbers (a reader deeper than the writer cannot match)."""
    chunks = -(-max_checkpoint_mib * 1024 // chunk_kib)
    return QoSProfile(depth=max(1, chunks), history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
