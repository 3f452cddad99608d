"""Object sets for the tray, with the fixed train/test split of ``random_urdfs``.

``pybullet_data/random_urdfs`` holds 1,000 procedurally generated objects in folders
``000`` … ``999``. Following the dql_grasping / QT-Opt convention, folders whose number
ends in 0 are the 100 held-out test objects and the other 900 are for training, so a
policy's test success is measured on shapes it never saw.

The random objects are ~10 cm across at their URDF scale, wider than the Panda's 8 cm
gripper opening (the convention comes from a wider KUKA gripper), so they are loaded at
``RANDOM_URDF_SCALE`` = 0.5 (~5 cm, 9 cm at most along the longest side).

One of them is broken: ``168.obj`` has only NaN vertices. PyBullet builds its collision hull
from uninitialised memory, so its bounding box (which places it on the floor) and its contacts
changed from one env to the next in a process, and a seed's scenes with it did not reproduce.
Objects whose meshes are not finite are left out of the sets (train: 899 objects).
"""
from __future__ import annotations

import math
import os
import re
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


def has_finite_meshes(urdf: str) -> bool:
    """Whether every vertex of every mesh file ``urdf`` names is a finite number."""
    folder = os.path.dirname(urdf)
    with open(urdf) as f:
        meshes = set(re.findall(r'filename="([^"]+)"', f.read()))
    for mesh in meshes:
        with open(os.path.join(folder, mesh)) as f:
            vertices = (line.split()[1:4] for line in f if line.startswith("v "))
            if not all(math.isfinite(float(x)) for vertex in vertices for x in vertex):
                return False
    return True


@lru_cache(maxsize=None)
def object_specs(object_set: str) -> tuple[ObjectSpec, ...]:
    """All usable objects of ``object_set`` ("train": 899, "test": 100, "shapes": 5)."""
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
    return tuple(spec for spec in specs if has_finite_meshes(spec.urdf))
