"""The QoS profiles of the topic contract (docs/topics.md), in one place."""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

#: Camera images: best effort, keep last few — a late frame is worthless.
SENSOR = qos_profile_sensor_data

#: Actions, episode records, evaluations: nothing may be lost silently. Reliable keep-last
#: still overwrites when a reader falls behind, so the depth covers bursts of short episodes
#: (depth 10 lost ~1 in 400 episodes at full speed in the recorder).
RELIABLE = QoSProfile(depth=200, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE)

#: Guide-step, control owner, checkpoint announcements: latched, a late joiner gets the last value.
LATCHED = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
