"""Shared test setup: one torch thread (the machine has two cores and tests run beside other work)."""
import torch

torch.set_num_threads(1)

import pytest


@pytest.fixture
def ros():
    """A private rclpy context on its own ROS_DOMAIN_ID (see ros_helpers.py)."""
    from ros_helpers import harness

    yield from harness()
