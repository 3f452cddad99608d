"""The state observation's slot order: a pure function of the slots, the object to grasp first."""
from __future__ import annotations

import numpy as np

from jsrl_sim.grasping.env import ROBOT_DIM, SLOT_DIM, GraspEnv
from jsrl_sim.grasping.slots import MAX_GRASP_WIDTH, slot_order


def _slot(dx: float, dy: float, width: float, target: bool = False) -> list[float]:
    return [dx, dy, 0.05, 0.0, 1.0, width, 0.04, float(target)]


def test_target_then_graspable_then_nearest():
    slots = np.array([
        _slot(0.01, 0.0, MAX_GRASP_WIDTH + 0.02),   # nearest, but too wide
        _slot(0.10, 0.0, 0.03),                     # graspable, far
        _slot(0.05, 0.0, 0.03),                     # graspable, near
        _slot(0.20, 0.1, 0.05, target=True),        # the target: first whatever else
    ])
    np.testing.assert_array_equal(slot_order(slots), [3, 2, 1, 0])
    np.testing.assert_array_equal(slot_order(slots[:3]), [2, 1, 0])


def test_order_is_invariant_to_the_load_order():
    rng = np.random.default_rng(0)
    slots = np.column_stack([rng.uniform(-0.2, 0.2, (5, 3)), rng.uniform(-1, 1, (5, 2)),
                             rng.uniform(0.02, 0.1, 5), rng.uniform(0, 0.1, 5), np.zeros(5)])
    reference = slots[slot_order(slots)]
    for _ in range(5):
        shuffled = slots[rng.permutation(5)]
        np.testing.assert_array_equal(shuffled[slot_order(shuffled)], reference)


def test_env_puts_the_instance_target_in_slot_zero_and_keeps_every_object():
    sorted_env = GraspEnv(object_set="shapes", task="instance", num_objects=4)
    raw_env = GraspEnv(object_set="shapes", task="instance", num_objects=4, sort_slots=False)
    try:
        for seed in range(4):
            obs, _ = sorted_env.reset(seed=seed)
            raw, _ = raw_env.reset(seed=seed)
            slots, raw_slots = obs[ROBOT_DIM:].reshape(4, SLOT_DIM), raw[ROBOT_DIM:].reshape(4, SLOT_DIM)
            np.testing.assert_array_equal(slots[:, -1], [1, 0, 0, 0])
            np.testing.assert_array_equal(np.sort(slots, axis=0), np.sort(raw_slots, axis=0))
            np.testing.assert_array_equal(obs[:ROBOT_DIM], raw[:ROBOT_DIM])
    finally:
        sorted_env.close()
        raw_env.close()
