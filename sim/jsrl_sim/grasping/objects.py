"""Object sets for the tray, with the fixed train/test split of ``random_urdfs``.

``pybullet_data/random_urdfs`` holds 1,000 procedurally generated objects in folders
``000`` … ``999``. Following the dql_grasping / QT-Opt convention, folders whose number
ends in 0 are the 100 held-out test objects and the other 900 are for training, so a
policy's test success is measured on shapes it never saw.

The random objects are ~10 cm across at their URDF scale, wider than the Panda's 8 cm
gripper opening (the convention comes from a wider KUKA gripper), so they are loaded at
``RANDOM_URDF_SCALE`` = 0.5 (~5 cm, 9 cm at most along the longest side).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import pybullet_data

OBJECT_SETS = ("train", "test", "shapes")
NUM_RANDOM_URDFS = 1000
RANDOM_URDF_SCALE = 0.5

# Simple shapes that fit the gripper (sizes in metres): the easy set for smoke tests.
SHAPES = (
    "cube_small.urdf",  # 5 cm cube
    "lego/lego.urdf",  # 3.4 x 3.4 x 2.5 cm brick
    "jenga/jenga.urdf",  # 15 x 5 x 3 cm block
    "sphere_small.urdf",  # 6 cm ball
    "duck_vhacd.urdf",  # ~9 x 8 x 7 cm duck
)


@dataclass(frozen=True)
class ObjectSpec:
    """One loadable object: an absolute URDF path and the scale to load it at."""

    urdf: str
    scale: float


def is_test_object(index: int) -> bool:
    """The held-out convention: random_urdfs folder numbers ending in 0."""
    return index % 10 == 0


@lru_cache(maxsize=None)
def object_specs(object_set: str) -> tuple[ObjectSpec, ...]:
    """All objects of ``object_set`` ("train": 900, "test": 100, "shapes": 5)."""
    root = pybullet_data.getDataPath()
    if object_set == "shapes":
        specs = tuple(ObjectSpec(os.path.join(root, name), 1.0) for name in SHAPES)
    elif object_set in ("train", "test"):
        want_test = object_set == "test"
        specs = tuple(
            ObjectSpec(os.path.join(root, "random_urdfs", f"{i:03d}", f"{i:03d}.urdf"), RANDOM_URDF_SCALE)
            for i in range(NUM_RANDOM_URDFS)
            if is_test_object(i) == want_test
        )
    else:
        raise ValueError(f"unknown object set {object_set!r}; known: {', '.join(OBJECT_SETS)}")
    missing = [s.urdf for s in specs if not os.path.isfile(s.urdf)]
    if missing:
        raise FileNotFoundError(f"object set {object_set!r}: {len(missing)} URDF(s) missing, e.g. {missing[0]}")
    return specs
