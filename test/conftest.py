"""Shared test setup: the working tree's packages first, one torch thread (the machine has two cores
and tests run beside other work)."""
import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# The root packages and sim/'s jsrl_sim, ahead of any installed copy, in this process and in every
# process a test starts (node launchers, `python -m jsrl_ros.bringup.main`, ...), whatever its cwd.
WORKING_TREE = [str(REPO), str(REPO / "sim")]
sys.path[:0] = WORKING_TREE
os.environ["PYTHONPATH"] = os.pathsep.join(WORKING_TREE + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                           if p and p not in WORKING_TREE])


torch.set_num_threads(1)



@pytest.fixture
def ros():
    """A private rclpy context on its own ROS_DOMAIN_ID (see ros_helpers.py)."""
    from ros_helpers import harness

    yield from harness()
