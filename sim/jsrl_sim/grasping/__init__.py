"""PyBullet grasping world: a Franka Panda over a tray of objects (see docs/grasping_env.md).

Import from the modules (``jsrl_sim.grasping.env``, ``.config``, ``.scripted_guide``): the package
itself imports nothing, so reading the task names in ``config`` does not load PyBullet.
"""
