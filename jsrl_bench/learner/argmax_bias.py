"""How far QT-Opt's cheap target argmax falls short of the true ``max_a Q'(s', a)``.

    jsrl bench argmax --checkpoint runs/x/checkpoint.pt --out results/argmax_bias.json

The bootstrap target needs ``max_a Q'(s', a)`` for every next state of every batch; the grasp
configs search it with one CEM pass of 16 samples (``target_cem``) to keep an update cheap
(DESIGN.md). A weaker search finds lower maxima, so the targets are biased low. This measures
that bias on a trained run: for next states from its replay, each search's maximum is compared
with a strong search's (many samples, several refits), as Q values (success probabilities for
a sigmoid critic). The close branch, when the learner has one, is part of every search alike.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from jsrl_learning.checkpoint import load_checkpoint
from jsrl_learning.guides.policy_checkpoint import learner_from_policy_state
from jsrl_learning.learners.cem import CEMConfig
from jsrl_learning.learners.qtopt import QTOptLearner

SEARCHES = {
    "target_16x1": CEMConfig(16, 1, 1),
    "target_32x1": CEMConfig(32, 1, 1),
    "target_16x2": CEMConfig(16, 2, 4),
    "acting_64x2": CEMConfig(64, 2, 6),
}
STRONG = CEMConfig(2048, 4, 64)


def search_values(learner: QTOptLearner, obs: torch.Tensor, cem: CEMConfig, seed: int) -> np.ndarray:
    """The target's ``min_j Q'_j(s, a*)`` at the search's ``a* = argmax_a Q'_1(s, a)``, for each state
    (sigmoid applied for a bounded critic)."""
    critic = learner.critic_target
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        state_part = critic.state_part(obs)
        actions = learner._argmax(critic, state_part[:1], cem, generator)
        q = critic.q.score(state_part, actions.unsqueeze(1)).amin(0)[:, 0]
    return (q.sigmoid() if learner.config.q_output == "sigmoid" else q).numpy()


def measure_argmax_bias(checkpoint: str, n_states: int = 1024, seed: int = 0) -> dict[str, Any]:
    """Each search's shortfall against the strong search, over ``n_states`` replayed next states."""
    state = load_checkpoint(checkpoint)
    learner = learner_from_policy_state(state["policy"], f"{checkpoint}: policy")
    if not isinstance(learner, QTOptLearner):
        raise ValueError(f"{checkpoint}: argmax bias needs a QT-Opt checkpoint, got {type(learner).__name__}")
    replay = state["online_replay"]
    size = int(replay["size"])
    rng = np.random.default_rng(seed)
    index = rng.choice(size, min(n_states, size), replace=False)
    obs = torch.as_tensor(np.asarray(replay["next_obs"])[index], dtype=torch.float32)
    strong = search_values(learner, obs, STRONG, seed)
    rows = {}
    for name, cem in SEARCHES.items():
        started = time.perf_counter()
        values = search_values(learner, obs, cem, seed + 1)
        gap = strong - values
        rows[name] = {"n_samples": cem.n_samples, "n_iters": cem.n_iters, "n_elites": cem.n_elites,
                      "mean_shortfall": float(gap.mean()), "p90_shortfall": float(np.quantile(gap, 0.9)),
                      "max_shortfall": float(gap.max()), "relative_shortfall": float(gap.mean() / max(strong.mean(), 1e-8)),
                      "ms_per_state": 1e3 * (time.perf_counter() - started) / len(obs)}
    return {"checkpoint": str(checkpoint), "n_states": len(obs), "q_output": learner.config.q_output,
            "strong_search": {"n_samples": STRONG.n_samples, "n_iters": STRONG.n_iters, "n_elites": STRONG.n_elites},
            "strong_mean_value": float(strong.mean()), "searches": rows}
