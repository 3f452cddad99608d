"""Learning curves of the AntMaze benchmark: one PNG, one panel per (maze, dataset size).

Each panel: normalised score (100 x success) of each method's policy alone against online env
steps (mean over seeds, the seeds' min–max shaded); the offline-only IQL policy (JSRL's guide) is a
horizontal dashed line; JSRL's combined policy (guide for h steps, then explorer) is dotted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from jsrl_bench.plots import CurveStyle, plot_methods, title_and_legend_below  # noqa: E402
from jsrl_learning.plotting import save_figure  # noqa: E402

STYLE = CurveStyle(
    metric="score", offline="iql_offline", unguided="iql", decimals=1, markersize=3,
    labels={"iql_offline": "IQL offline only (the guide)", "iql": "IQL fine-tuning",
            "jsrl": "IQL+JSRL (curriculum)", "jsrl_random": "IQL+JSRL (random)"},
    colors={"iql_offline": "tab:gray", "iql": "tab:blue", "jsrl": "tab:red", "jsrl_random": "tab:orange"})


def plot_antmaze_bench(result: Mapping[str, Any], path: Path) -> Path:
    """Write the figure to ``path`` (a .png) and return it."""
    cells = result["results"]
    fig, axes = plt.subplots(1, max(1, len(cells)), figsize=(6.5 * max(1, len(cells)), 5.5), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        _panel(ax, cell, result["settings"]["online_steps"])
    title_and_legend_below(fig, axes[0][0], "AntMaze: normalised score of the policy alone (100 x success rate)")
    return save_figure(fig, path)


def _panel(ax: plt.Axes, cell: Mapping[str, Any], online_steps: int) -> None:
    plot_methods(ax, cell, STYLE)
    ax.set_xlim(0, online_steps)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("online env steps")
    ax.set_ylabel("normalised score")
    ax.set_title(f"{cell['maze']}, {cell['dataset_size']} transitions")
    ax.grid(alpha=0.3)
