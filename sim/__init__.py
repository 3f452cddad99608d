"""Simulators for jsrl_ros (installed as the package ``jsrl_sim``): numpy, pybullet, mujoco, gymnasium only."""
