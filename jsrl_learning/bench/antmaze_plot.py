"""Learning curves of the AntMaze benchmark: one PNG, one panel per (maze, dataset size).

Each panel: normalised score (100 x success) of each method's policy alone against online env
steps (mean over seeds, the seeds' range shaded); the offline-only IQL policy (JSRL's guide) is a
horizontal dashed line; JSRL's combined policy (guide for h steps, then explorer) is dotted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

LABELS = {"iql_offline": "IQL offline only (the guide)", "iql": "IQL fine-tuning",
          "jsrl": "IQL+JSRL (curriculum)", "jsrl_random": "IQL+JSRL (random)"}
COLORS = {"iql_offline": "tab:gray", "iql": "tab:blue", "jsrl": "tab:red", "jsrl_random": "tab:orange"}


def plot_antmaze_bench(result: Mapping[str, Any], path: Path) -> Path:
    """Write the figure to ``path`` (a .png) and return it."""
    cells = result["results"]
    fig, axes = plt.subplots(1, max(1, len(cells)), figsize=(6 * max(1, len(cells)), 4.5), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        _panel(ax, cell, result["settings"]["online_steps"])
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8)
    fig.suptitle("AntMaze: normalised score of the policy alone (100 x success rate)")
    fig.tight_layout(rect=(0, 0.14, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax: plt.Axes, cell: Mapping[str, Any], online_steps: int) -> None:
    for method, entry in cell["methods"].items():
        color, label = COLORS.get(method), LABELS.get(method, method)
        text = f"{label}: {entry['score']:.1f} ± {entry['score_std']:.1f} (n={len(entry['score_per_seed'])})"
        curve = entry["curve"]
        if method == "iql_offline":
            ax.axhline(entry["score"], color=color, linestyle="--", label=text)
            continue
        if not curve["steps"]:
            continue
        per_seed = np.asarray(curve["score_per_seed"])
        ax.plot(curve["steps"], curve["score"], color=color, marker="o", markersize=3, label=text)
        ax.fill_between(curve["steps"], per_seed.min(axis=0), per_seed.max(axis=0), color=color, alpha=0.15)
        if method != "iql":
            ax.plot(curve["steps"], curve["combined_score"], color=color, linestyle=":", alpha=0.8,
                    label=f"{label}: guide + explorer")
    ax.set_xlim(0, online_steps)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("online env steps")
    ax.set_ylabel("normalised score")
    ax.set_title(f"{cell['maze']}, {cell['dataset_size']} transitions")
    ax.grid(alpha=0.3)
