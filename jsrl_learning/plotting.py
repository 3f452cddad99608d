"""PNG figures: a JSRL learning curve with its guide-step, the lock benchmark's growth plot, and
the sweeps' method curves (``plot_methods``, drawn by bench/grasp_plot.py and bench/antmaze_plot.py).

matplotlib runs headless (Agg): training and benches run on machines without a display.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

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


@dataclass(frozen=True)
class CurveStyle:
    """How a bench's methods are drawn. ``metric``: the result's name for it ("success", "score"),
    keying the entry's ``<metric>``, ``<metric>_std``, ``<metric>_per_seed`` and the curve's
    ``combined_<metric>``; ``offline``: the method drawn flat; ``unguided``: the online method with
    no guide (no combined curve); ``decimals``: of the legend's mean ± std."""

    metric: str
    offline: str
    unguided: str
    labels: Mapping[str, str]
    colors: Mapping[str, str]
    decimals: int
    markersize: float


def plot_methods(ax: plt.Axes, cell: Mapping[str, Any], style: CurveStyle) -> None:
    """Every method of a sweep's result cell in one panel: its policy alone against online env steps
    (mean over seeds, the seeds' min–max shaded), the offline method flat (dashed), JSRL's combined
    policy (guide, then explorer) dotted; the legend gives each at the budget, mean ± std over seeds
    (the combined one at each seed's final h)."""
    metric, d = style.metric, style.decimals

    def at_budget(entry: Mapping[str, Any], name: str) -> str:
        return f"{entry[name]:.{d}f} ± {entry[name + '_std']:.{d}f}"

    for method, entry in cell["methods"].items():
        color, label = style.colors.get(method), style.labels.get(method, method)
        text = f"{label}: {at_budget(entry, metric)} (n={len(entry[metric + '_per_seed'])})"
        curve = entry["curve"]
        if method == style.offline:
            ax.axhline(entry[metric], color=color, linestyle="--", label=text)
            continue
        if not curve["steps"]:
            continue
        per_seed = np.asarray(curve[metric + "_per_seed"])
        ax.plot(curve["steps"], curve[metric], color=color, marker="o", markersize=style.markersize, label=text)
        ax.fill_between(curve["steps"], per_seed.min(axis=0), per_seed.max(axis=0), color=color, alpha=0.15)
        if method != style.unguided:
            final = f" (final h: {at_budget(entry, 'combined_' + metric)})" if "combined_" + metric in entry else ""
            ax.plot(curve["steps"], curve["combined_" + metric], color=color, linestyle=":", alpha=0.8,
                    label=f"{label}: guide + explorer{final}")


def _series(history: Sequence[Mapping[str, float]], key: str) -> tuple[list[float], list[float]]:
    rows = [(row["step"], row[key]) for row in history if key in row]
    return [r[0] for r in rows], [r[1] for r in rows]


def title_and_legend_below(fig: plt.Figure, ax: plt.Axes, title: str) -> None:
    """Suptitle, and ``ax``'s legend under the panels, the figure made taller by the legend's rows
    (long method labels ran off the figure's sides in three columns, and in two under one panel):
    two columns from 13 inches of width, else one."""
    handles, labels = ax.get_legend_handles_labels()
    columns = 2 if fig.get_figwidth() >= 13 else 1
    rows = -(-len(labels) // columns)
    legend_inches = 0.2 + 0.17 * rows  # 8-pt rows
    fig.set_figheight(fig.get_figheight() + legend_inches)  # the panels keep their height
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 0.95))


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (its folder made), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
