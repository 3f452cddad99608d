"""Every topic name of the contract, named once (docs/topics.md has what travels on each).

Names are relative, so a whole graph can be pushed into a namespace (an actor of a fleet).
The real-arm names are defaults of the bridge's parameters: a driver's own topics are remapped
or configured, not renamed here.
"""
from __future__ import annotations

# The learning loop: bridge <-> observation <-> arbiter, stamped per step (jsrl_ros/contract/step_clock.py).
CAMERA_IMAGE = "camera/image_raw"            #: the bridge's camera frame (sensor_msgs/Image)
OBS_IMAGE = "jsrl/obs/image"                 #: the observation node's processed image
STATE = "jsrl/state"                         #: the env's state vector / proprioception (named vector)
ACTION = "jsrl/action"                       #: the arbiter's action for a step (named vector)
GUIDE_ACTION = "jsrl/guide_action"           #: a scripted guide's action, published by the bridge
STEP = "jsrl/step"                           #: reward and episode end of the action taken (named vector)
RESET = "jsrl/reset"                         #: ask the bridge to end the episode now
EPISODE_INFO = "jsrl/episode_info"           #: the arbiter's guide-step and mode for an episode

# Episodes, curriculum and weights.
EPISODE_BAG = "jsrl/episode_bag"             #: the path of a closed episode bag (recorder -> learner)
EPISODE_SUMMARY = "jsrl/episode_summary"     #: return/success of a closed episode (recorder -> curriculum)
EVALUATION = "jsrl/evaluation"               #: an evaluation score for the curriculum manager
GUIDE_STEP = "jsrl/guide_step"               #: the curriculum's current h (latched)
GUIDE_STEP_CHOICES = "jsrl/guide_step_choices"  #: the h values the arbiter may draw from (latched)
CHECKPOINT = "jsrl/checkpoint"               #: the path of the learner's newest checkpoint (latched)
CONTROL_OWNER = "jsrl/control_owner"         #: who drives the robot now: guide, explorer, human (latched)

# A human at the robot.
TELEOP_TWIST = "teleop/cmd_vel_stamped"      #: the keyboard/spacemouse's end-effector velocity
TELEOP_GRIPPER = "teleop/gripper"            #: the human's gripper command
TELEOP_LABEL = "teleop/label"                #: the human's verdict on the open episode

# The real arm (defaults of the bridge's parameters).
JOINT_STATES = "joint_states"
ARM_CAMERA_IMAGE = "camera/color/image_raw"
ARM_TWIST = "teleop/cmd_vel"
SAFETY_ESTOP = "safety/estop"
SAFETY_CLEAR_ESTOP = "safety/clear_estop"
SAFETY_DEADMAN = "safety/deadman"
SAFETY_STATUS = "safety/status"

# A fleet (docs/fleet.md): absolute names, where every actor's namespaced graph meets the learner's.
FLEET_EPISODES = "/fleet/episodes"           #: actors' finished episodes, one frame each (jsrl_ros/fleet/wire.py)
FLEET_ACKS = "/fleet/acks"                   #: the learner's answer per episode
FLEET_WEIGHTS = "/fleet/weights"             #: checkpoint chunks (latched)
FLEET_GUIDE_STEP_CHOICES = "/fleet/guide_step_choices"  #: the one curriculum's choices, for every actor (latched)

DIAGNOSTICS = "diagnostics"                  #: every node's counters and health, once a second
