"""What the sweeps' plots share (grasp/plot.py, antmaze/plot.py): every method's curves in a panel,
and the legend below the panels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402


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
