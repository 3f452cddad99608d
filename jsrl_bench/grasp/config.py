"""Settings of the grasping benchmark (``jsrl bench grasp``): one strict dataclass, read from YAML.

The shipped files are ``config/grasp_{quick,long,full,bc}.yaml``; every value is fixed a priori
(docs/grasping_results.md says why), and an unknown key or bad value is an error naming it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from jsrl_sim.grasping.config import OBS_MODES, TASKS

from jsrl_bench.sweep.common import RENAMED_SETTINGS
from jsrl_bench.sweep.config_checks import require_choices, require_positive_ints, require_seeds, require_sizes
from jsrl_learning.config import from_mapping, read_yaml, require
from jsrl_learning.curriculum import CurriculumConfig
from jsrl_learning.guides import BCConfig
from jsrl_learning.learners.qtopt import QTOptConfig

METHODS = ("bc", "qtopt", "jsrl", "jsrl_random", "jsrl_demos")
ONLINE_METHODS = ("qtopt", "jsrl", "jsrl_random", "jsrl_demos")
DEMOS_IN_REPLAY = ("qtopt", "jsrl_demos")  # pre-trained on the demos, which stay in the replay (grasp.py)
BENCH_KEYS_IN_ENV = ("task", "obs_mode", "object_set")  # set by the bench, never by env_kwargs


@dataclass
class GraspBenchConfig:
    """One sweep. ``qtopt`` is the QT-Opt learner config (``QTOptConfig`` keys; its seed is set per run).

    ``h1``: JSRL's first guide-step; null (the paper's choice) estimates it per run as the BC
    guide's mean steps to success over ``h1_rollouts`` rollouts on the training objects.
    ``rule``, ``tolerance``, ``guide_tolerance``: the curriculum's advance rule (``CurriculumConfig``).
    ``timeouts_terminal``: the grasp state holds step / max_steps, so a time-out has no future.
    """

    RENAMED: ClassVar[dict[str, str]] = RENAMED_SETTINGS

    tasks: list[str]
    obs: list[str]
    demos: list[int]
    seeds: list[int]
    online_steps: int
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    eval_every_steps: int = 1000
    eval_episodes: int = 20
    final_eval_episodes: int = 100
    updates_per_step: float = 1.0
    batch_size: int = 256
    online_capacity: int = 100_000
    qtopt: dict[str, Any] = field(default_factory=dict)
    qtopt_offline_updates: int = 10_000
    qtopt_online_fraction: float = 0.75
    bc: BCConfig = field(default_factory=BCConfig)
    n_stages: int = 5
    window: int = 3
    rule: str = "guide"
    tolerance: float = 0.05
    guide_tolerance: float = 0.2
    h1_rollouts: int = 100
    timeouts_terminal: bool = True
    h1: float | None = None
    demo_noise: float = 0.0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    workers: int = 2

    def validate(self, where: str) -> None:
        require_choices(self, "tasks", TASKS, where)
        require_choices(self, "obs", OBS_MODES, where)
        require_choices(self, "methods", METHODS, where)
        require_sizes(self, "demos", where)
        require_seeds(self, where)
        online = any(m in ONLINE_METHODS for m in self.methods)
        require(isinstance(self.online_steps, int) and (self.online_steps > 0 or not online and self.online_steps == 0),
                where, f"online_steps must be a positive int (0 only without online methods), got {self.online_steps!r}")
        require_positive_ints(self, ("eval_every_steps", "eval_episodes", "final_eval_episodes", "batch_size",
                                     "online_capacity", "n_stages", "window", "h1_rollouts", "workers"), where)
        require(isinstance(self.qtopt_offline_updates, int) and self.qtopt_offline_updates >= 0, where,
                f"qtopt_offline_updates must be an int >= 0, got {self.qtopt_offline_updates!r}")
        require(self.updates_per_step >= 0, where, f"updates_per_step must be >= 0, got {self.updates_per_step!r}")
        require(0.0 <= self.qtopt_online_fraction <= 1.0, where,
                f"qtopt_online_fraction must be in [0, 1], got {self.qtopt_online_fraction!r}")
        require(self.h1 is None or (isinstance(self.h1, (int, float)) and self.h1 >= 0), where,
                f"h1 must be a number >= 0 or null (estimate it from the BC guide), got {self.h1!r}")
        require(self.tolerance >= 0, where, f"tolerance must be >= 0, got {self.tolerance!r}")
        require(isinstance(self.timeouts_terminal, bool), where,
                f"timeouts_terminal must be true or false, got {self.timeouts_terminal!r}")
        CurriculumConfig(rule=self.rule, guide_tolerance=self.guide_tolerance).validate(where)
        require(self.demo_noise >= 0, where, f"demo_noise must be >= 0, got {self.demo_noise!r}")
        clashing = sorted(set(self.env_kwargs) & set(BENCH_KEYS_IN_ENV))
        require(not clashing, where, f"env_kwargs: {clashing} are set by the bench (tasks, obs, train/test objects)")
        require("seed" not in self.qtopt, where, "qtopt.seed is derived from the bench seed; remove it")
        from_mapping(QTOptConfig, self.qtopt, f"{where}.qtopt")  # unknown keys and bad values, named
        self.bc.validate(f"{where}.bc")


def load_bench_config(path: str | Path) -> GraspBenchConfig:
    """A bench config from YAML; unknown keys and bad values are named with the file."""
    return from_mapping(GraspBenchConfig, read_yaml(path), str(path))


@dataclass(frozen=True)
class Cell:
    """One (task, observation mode, demo count): a row group of the result table."""

    task: str
    obs: str
    demos: int

    @property
    def name(self) -> str:
        return f"{self.task}-{self.obs}-{self.demos}"
