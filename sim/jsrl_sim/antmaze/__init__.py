"""D4RL AntMaze (umaze, medium, large) on MuJoCo, and a scripted guide that walks it.

``AntMazeEnv`` / ``jsrl/AntMaze-v0`` is the env (env.py), ``AntMazeGuide`` the scripted
guide (guide.py). Importing this package does not import MuJoCo's renderer; the env module
does, so it is loaded lazily by gymnasium's entry point.
"""
from jsrl_sim.antmaze.config import AntMazeConfig, AntMazeConfigError, make_config
from jsrl_sim.antmaze.maze import MAZES

__all__ = ["AntMazeConfig", "AntMazeConfigError", "MAZES", "make_config"]
