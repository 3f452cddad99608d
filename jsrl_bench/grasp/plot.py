"""Learning curves of the grasping benchmark: one PNG per task and observation mode.

Each panel is one demo count: held-out success of each method's policy alone against online
env steps (mean over seeds, the seeds' min–max shaded); BC, which never trains online, is a
horizontal line; JSRL's combined policy (guide for h steps, then explorer) is dotted.
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
    metric="success", offline="bc", unguided="qtopt", decimals=2, markersize=2,
    labels={"bc": "BC", "qtopt": "QT-Opt (demos in replay)", "jsrl": "QT-Opt+JSRL (curriculum)",
            "jsrl_random": "QT-Opt+JSRL (random)", "jsrl_demos": "QT-Opt+JSRL (curriculum, demos in replay)"},
    colors={"bc": "tab:gray", "qtopt": "tab:blue", "jsrl": "tab:red", "jsrl_random": "tab:orange",
            "jsrl_demos": "tab:purple"})


def plot_grasp_bench(result: Mapping[str, Any], stem: Path) -> list[Path]:
    """Write ``<stem>_<task>_<obs>.png`` for every (task, obs) in the result; returns the paths."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for cell in result["results"]:
        groups.setdefault((cell["task"], cell["obs"]), []).append(cell)
    online_steps = result["settings"]["online_steps"]
    paths = []
    for (task, obs), cells in groups.items():
        fig, axes = plt.subplots(1, len(cells), figsize=(6.5 * len(cells), 5.5), squeeze=False)
        for ax, cell in zip(axes[0], cells):
            _panel(ax, cell, online_steps)
        title_and_legend_below(fig, axes[0][0], f"Grasping ({task}, {obs} observations), held-out objects")
        paths.append(save_figure(fig, f"{stem}_{task}_{obs}.png"))
    return paths


def _panel(ax: plt.Axes, cell: Mapping[str, Any], online_steps: int) -> None:
    plot_methods(ax, cell, STYLE)
    ax.set_xlim(0, max(online_steps, 1))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("online env steps")
    ax.set_ylabel("success on held-out objects (policy alone)")
    ax.set_title(f"{cell['demos']} demos")
    ax.grid(alpha=0.3)
