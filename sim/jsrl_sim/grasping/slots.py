"""The order of the object slots in the state observation.

An MLP reads a flat vector: if the same object can sit in any of N slots (the load order
is random), it must learn a permutation-invariant function from a handful of demos, which
it cannot (BC from 20 and from 200 demos scored the same, docs/grasping_env.md). Sorting
the slots by what makes an object the one to grasp puts that object in slot 0 in almost
every scene: the target first (instance task), then objects narrow enough for the fingers,
then by horizontal distance to the grasp point. The key is read from the slots themselves,
so the order is a pure function of the observation.
"""
from __future__ import annotations

import numpy as np

from jsrl_sim.grasping.scene import FINGER_OPEN

MAX_GRASP_WIDTH = 2 * FINGER_OPEN - 0.01  # narrowest side must leave 5 mm per finger
# Columns of one slot (SLOT_DIM = 8): offset to the grasp point (3), sin/cos of the relative
# closing angle (2), width, top above the floor, is-target.
OFFSET, WIDTH, IS_TARGET = slice(0, 3), 5, 7


def slot_order(slots: np.ndarray) -> np.ndarray:
    """Indices sorting ``(N, SLOT_DIM)`` slots: target, then graspable, then nearest in x-y first."""
    distance = np.linalg.norm(slots[:, OFFSET][:, :2], axis=1)
    graspable = slots[:, WIDTH] <= MAX_GRASP_WIDTH
    # np.lexsort sorts by the last key first; stable, so ties keep the load order.
    return np.lexsort((distance, ~graspable, slots[:, IS_TARGET] <= 0.5))
