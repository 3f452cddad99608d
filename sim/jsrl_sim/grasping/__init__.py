"""PyBullet grasping world: a Franka Panda over a tray of objects (see docs/grasping_env.md)."""
from jsrl_sim.grasping.config import GraspConfig, GraspConfigError, make_config
from jsrl_sim.grasping.env import GraspEnv, PrivilegedState
from jsrl_sim.grasping.scripted_guide import ScriptedGraspGuide, make_grasp_guide

__all__ = ["GraspConfig", "GraspConfigError", "GraspEnv", "PrivilegedState", "ScriptedGraspGuide",
           "make_config", "make_grasp_guide"]
