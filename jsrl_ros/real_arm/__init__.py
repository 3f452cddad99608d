"""The real arm: its configuration, safety limits, measured-state checks, motion commands and grasp cycle."""
