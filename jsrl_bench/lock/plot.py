"""The lock benchmark's growth plot: episodes to solve against the horizon H."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from jsrl_learning.plotting import save_figure  # noqa: E402


def plot_lock_bench(result: Mapping, path: str | Path) -> Path:
    """Episodes to solve vs H on a log scale: medians, per-seed runs, censored runs at the budget."""
    budget = result["settings"]["budget_episodes"]
    horizons = result["H"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for method in result["settings"]["methods"]:
        medians = result[f"{method}_episodes"]
        line = ax.plot([h for h, m in zip(horizons, medians) if m is not None],
                       [m for m in medians if m is not None], marker="o", label=f"{method} (median)")[0]
        solved, censored = [], []
        for h, seeds in zip(horizons, result["per_seed"][method]):
            for value in seeds or []:
                (censored if value is None else solved).append((h, budget if value is None else value))
        if solved:
            ax.scatter(*zip(*solved), color=line.get_color(), alpha=0.3, s=12)
        if censored:
            ax.scatter(*zip(*censored), color=line.get_color(), marker="^", s=40,
                       label=f"{method}: censored (> budget)")
    ax.axhline(budget, color="gray", linestyle=":", label=f"budget ({budget} episodes)")
    ax.set_yscale("log")
    ax.set_xlabel("horizon H")
    ax.set_ylabel("training episodes until the explorer alone solves the lock")
    s = result["settings"]
    ax.set_title(f"Combination lock, A={s['n_actions']}, guide p={s['guide_p']}, "
                 f"ε={s['epsilon']}, {len(s['seeds'])} seeds")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
