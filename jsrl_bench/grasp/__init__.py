"""Grasping (jsrl/Grasp-v0): QT-Opt+JSRL vs QT-Opt and BC on held-out objects, its ablations, report and plots."""
