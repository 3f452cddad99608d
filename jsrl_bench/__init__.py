"""Experiments on top of the JSRL core: benchmarks and their sweeps, reports and plots, demo and
dataset generation, and the ``jsrl`` command that runs them.

It imports the core (``jsrl_learning``), the simulators (``jsrl_sim``) and the ROS layer
(``jsrl_ros``, only inside the ROS benches as they run); nothing imports ``jsrl_bench``.
"""
