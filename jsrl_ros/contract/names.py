"""Names fixed by the topic contract (docs/topics.md), shared by the nodes and the bag reader.

The named vectors' ``name`` lists are part of the contract: a receiver checks them, so
publisher and receiver must take them from one place.
"""
from __future__ import annotations

#: ``jsrl/step``: the outcome of the action taken at t, stamped (e, t + 1).
STEP_NAMES = ("episode", "step", "reward", "terminated", "truncated", "success")

#: ``jsrl/episode_info``: published once per episode by the arbiter, stamped (e, 0).
EPISODE_INFO_NAMES = ("episode", "guide_step", "evaluation")

#: ``jsrl/episode_summary``: published by the recorder when an episode's bag is closed.
EPISODE_SUMMARY_NAMES = ("episode", "guide_step", "evaluation", "return", "success", "length")

#: ``teleop/label`` values: a human's verdict on the open episode.
LABELS = ("success", "failure")
