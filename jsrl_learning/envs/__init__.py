"""Gymnasium environments of the learning core; importing this package registers them."""
from gymnasium.envs.registration import register, registry

from jsrl_learning.envs.combination_lock import CombinationLockEnv, NoisyLockGuide, make_lock_guide

COMBINATION_LOCK_ID = "jsrl/CombinationLock-v0"

if COMBINATION_LOCK_ID not in registry:
    register(id=COMBINATION_LOCK_ID, entry_point="jsrl_learning.envs.combination_lock:CombinationLockEnv")

__all__ = ["COMBINATION_LOCK_ID", "CombinationLockEnv", "NoisyLockGuide", "make_lock_guide"]
