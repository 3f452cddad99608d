"""The grasping world as the experiments use it: jsrl/Grasp-v0, its settings and its scripted guide."""
from __future__ import annotations

from typing import Any

import jsrl_sim
from jsrl_sim.grasping.config import OBS_MODES, TASKS

from jsrl_bench.sim_names import factory_target, qualified_env_id
from jsrl_learning.guides import GuideSpec

GRASP_ENV_ID = qualified_env_id(jsrl_sim.GRASP_ENV_ID)


def scripted_guide_target() -> str:
    """The privileged-state scripted grasp guide (docs/grasping_env.md) as a scripted guide's target.

    A function, not a constant: naming it imports the guide's module and so PyBullet, which every
    `jsrl` command would otherwise load (and print its build line) just to build its parser.
    """
    from jsrl_sim.grasping.scripted_guide import make_grasp_guide
    return factory_target(make_grasp_guide)


def grasp_env_kwargs(task: str, obs: str, object_set: str = "train", **extra: Any) -> dict[str, Any]:
    """``jsrl/Grasp-v0`` settings for a task and observation mode; ``extra`` adds env keys."""
    if task not in TASKS:
        raise ValueError(f"grasp task must be one of {TASKS}, got {task!r}")
    if obs not in OBS_MODES:
        raise ValueError(f"grasp obs must be one of {OBS_MODES}, got {obs!r}")
    return {"task": task, "obs_mode": obs, "object_set": object_set, **extra}


def grasp_scripted_guide(noise: float = 0.0, seed: int | None = None) -> GuideSpec:
    """The scripted grasp guide; ``seed`` seeds its action noise (unused without noise)."""
    kwargs: dict[str, Any] = {"noise": noise, "seed": seed} if noise else {}
    return GuideSpec(kind="scripted", target=scripted_guide_target(), kwargs=kwargs)
