"""The flat AntMaze observation: one float32 vector whose first 29 entries are D4RL's layout.

| index  | content                                                             |
|--------|---------------------------------------------------------------------|
| 0:2    | torso x, y (m) = gymnasium-robotics' ``achieved_goal``              |
| 2      | torso z (m)                                                         |
| 3:7    | torso orientation quaternion (w, x, y, z)                           |
| 7:15   | joint angles hip_1, ankle_1, hip_2, ankle_2, hip_3, ankle_3, hip_4, ankle_4 (rad) |
| 15:18  | torso linear velocity (m/s)                                         |
| 18:21  | torso angular velocity (rad/s)                                      |
| 21:29  | joint velocities, same order as 7:15 (rad/s)                        |
| 29:31  | goal x, y (m) = ``desired_goal``                                    |

So ``obs[:29]`` is the MuJoCo ``qpos`` + ``qvel`` exactly as in D4RL's antmaze datasets and
``obs[29:]`` carries the (noisy) goal, which makes the task fully observable.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

XY = slice(0, 2)
QUAT = slice(3, 7)
JOINT_POS = slice(7, 15)
JOINT_VEL = slice(21, 29)
GOAL = slice(29, 31)
D4RL_DIM = 29
OBS_DIM = 31


def flatten(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """gymnasium-robotics' dict observation -> the flat float32 layout above."""
    return np.concatenate([obs["achieved_goal"], obs["observation"], obs["desired_goal"]]).astype(np.float32)
