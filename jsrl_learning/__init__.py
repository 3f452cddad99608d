"""The JSRL core: guides, the curriculum, rollouts, learners, buffers, datasets, checkpoints, the
trainer and ``jsrl train``/``jsrl evaluate``.

Everything here runs on a plain gymnasium env. The core imports nothing above it (the ROS
nodes, the simulators, the experiments) and does not name them, even in a string: an env or a
scripted guide reaches it by the id or ``module:factory`` that a config or caller gives.
"""
