"""Simulators for jsrl_ros (the package ``jsrl_sim``, in ``sim/jsrl_sim/``): numpy, pybullet, mujoco, gymnasium only.

Importing ``jsrl_sim`` registers its gymnasium ids (cheaply: entry points are strings), so
code that must not import it statically can still say ``gymnasium.make("jsrl_sim:jsrl/Grasp-v0")``.
"""
from gymnasium.envs.registration import register, registry

GRASP_ENV_ID = "jsrl/Grasp-v0"

if GRASP_ENV_ID not in registry:
    register(id=GRASP_ENV_ID, entry_point="jsrl_sim.grasping.env:GraspEnv")

# D4RL AntMaze: gymnasium.make("jsrl/AntMaze-v0", maze="umaze" | "medium" | "large", max_steps=..., render_mode=...)
ANTMAZE_ENV_ID = "jsrl/AntMaze-v0"

if ANTMAZE_ENV_ID not in registry:
    register(id=ANTMAZE_ENV_ID, entry_point="jsrl_sim.antmaze.env:AntMazeEnv")
