"""PNG figures: a JSRL run's learning curve with its guide-step (``jsrl train``), and ``save_figure``,
which the benchmarks' plots use too.

matplotlib runs headless (Agg): training and benches run on machines without a display.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

# History keys written by JSRLTrainer (see jsrl_learning/trainer.py).
CURVES = {
    "eval/explorer_success_rate": "explorer alone (eval)",
    "eval/combined_success_rate": "guide + explorer (eval)",
}
EPISODE_SUCCESS = "episode/success"
GUIDE_STEP = "curriculum/guide_step"
SMOOTH_EPISODES = 20


def plot_learning_curve(history: Sequence[Mapping[str, float]], path: str | Path, title: str = "") -> Path:
    """Success over env steps (left axis) and the curriculum's guide-step (right axis)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, label in CURVES.items():
        xs, ys = _series(history, key)
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
    xs, ys = _series(history, EPISODE_SUCCESS)
    if xs:
        k = min(SMOOTH_EPISODES, len(ys))
        smooth = np.convolve(ys, np.ones(k) / k, mode="valid")
        ax.plot(xs[k - 1:], smooth, alpha=0.5, label=f"training episodes ({k}-episode mean)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    xs, ys = _series(history, GUIDE_STEP)
    if xs:
        ax2 = ax.twinx()
        ax2.step(xs, ys, where="post", color="black", alpha=0.6, linestyle="--", label="guide-step h")
        ax2.set_ylabel("guide-step h")
        ax2.set_ylim(bottom=0)
        ax2.yaxis.get_major_locator().set_params(integer=True)
        more = ax2.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    fig.legend(handles, labels, loc="lower center", ncol=min(4, max(1, len(labels))), fontsize=8)
    ax.set_title(title or "JSRL learning curve")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, path)


def _series(history: Sequence[Mapping[str, float]], key: str) -> tuple[list[float], list[float]]:
    rows = [(row["step"], row[key]) for row in history if key in row]
    return [r[0] for r in rows], [r[1] for r in rows]


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (its folder made), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
