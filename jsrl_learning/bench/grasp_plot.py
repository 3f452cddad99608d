"""Learning curves of the grasping benchmark: one PNG per task and observation mode.

Each panel is one demo count: held-out success of each method's policy alone against online
env steps (mean over seeds, the seeds' range shaded); BC, which never trains online, is a
horizontal line; JSRL's combined policy (guide for h steps, then explorer) is dotted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

LABELS = {"bc": "BC", "qtopt": "QT-Opt (demos in replay)", "jsrl": "QT-Opt+JSRL (curriculum)",
          "jsrl_random": "QT-Opt+JSRL (random)"}
COLORS = {"bc": "tab:gray", "qtopt": "tab:blue", "jsrl": "tab:red", "jsrl_random": "tab:orange"}


def plot_grasp_bench(result: Mapping[str, Any], stem: Path) -> list[Path]:
    """Write ``<stem>_<task>_<obs>.png`` for every (task, obs) in the result; returns the paths."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for cell in result["results"]:
        groups.setdefault((cell["task"], cell["obs"]), []).append(cell)
    online_steps = result["settings"]["online_steps"]
    paths = []
    for (task, obs), cells in groups.items():
        fig, axes = plt.subplots(1, len(cells), figsize=(6.5 * len(cells), 4.5), squeeze=False)
        for ax, cell in zip(axes[0], cells):
            _panel(ax, cell, online_steps)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(3, max(1, len(labels))), fontsize=8)
        fig.suptitle(f"Grasping ({task}, {obs} observations), held-out objects")
        fig.tight_layout(rect=(0, 0.1, 1, 0.95))
        path = Path(f"{stem}_{task}_{obs}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _panel(ax: plt.Axes, cell: Mapping[str, Any], online_steps: int) -> None:
    for method, entry in cell["methods"].items():
        color, n = COLORS.get(method), len(entry["success_per_seed"])
        label = f"{LABELS.get(method, method)}: {entry['success']:.2f} ± {entry['success_std']:.2f} (n={n})"
        curve = entry["curve"]
        if method == "bc":
            ax.axhline(entry["success"], color=color, linestyle="--", label=label)
            continue
        if not curve["steps"]:
            continue
        per_seed = np.asarray(curve["success_per_seed"])
        ax.plot(curve["steps"], curve["success"], color=color, marker="o", markersize=2, label=label)
        ax.fill_between(curve["steps"], per_seed.min(axis=0), per_seed.max(axis=0), color=color, alpha=0.15)
        if method != "qtopt":
            ax.plot(curve["steps"], curve["combined_success"], color=color, linestyle=":", alpha=0.8,
                    label=f"{LABELS.get(method, method)}: guide + explorer")
    ax.set_xlim(0, max(online_steps, 1))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("online env steps")
    ax.set_ylabel("success on held-out objects (policy alone)")
    ax.set_title(f"{cell['demos']} demos")
    ax.grid(alpha=0.3)
