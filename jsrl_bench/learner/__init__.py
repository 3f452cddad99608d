"""Learner speed against plain reference implementations, and QT-Opt's target-argmax shortfall."""
