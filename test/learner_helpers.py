"""What the continuous learners' tests share (test_iql.py, test_qtopt.py): the spaces, a random
batch in them, and the check that a saved learner resumes exactly."""
import io
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from jsrl_learning.buffers import Batch

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACT = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))


def random_batch(n: int = 20, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(rng.standard_normal((n, 3)).astype(np.float32),
                 rng.uniform(ACT.low, ACT.high, (n, 2)).astype(np.float32),
                 rng.standard_normal(n).astype(np.float32),
                 rng.standard_normal((n, 3)).astype(np.float32),
                 (rng.random(n) < 0.2).astype(np.float32))


def assert_resumes_exactly(learner: Callable[[int], object]) -> None:
    """A learner (seed 0) trained a little, saved and loaded into one of another seed acts and
    updates exactly as the original does from then on, exploration included."""
    batch, other = random_batch(seed=0), random_batch(seed=1)
    agent = learner(0)
    for _ in range(5):
        agent.update(batch)
    agent.act(batch.obs)
    buffer = io.BytesIO()
    torch.save(agent.state_dict(), buffer)
    buffer.seek(0)
    restored = learner(7)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert np.array_equal(agent.act(batch.obs, explore=False), restored.act(batch.obs, explore=False))
    assert np.array_equal(agent.act(batch.obs), restored.act(batch.obs))
    assert agent.update(other) == restored.update(other)
    assert np.array_equal(agent.act(batch.obs), restored.act(batch.obs))
