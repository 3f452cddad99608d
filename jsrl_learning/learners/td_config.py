"""Settings every deep TD learner here shares (IQL, QT-Opt), validated in one place."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from jsrl_learning.config import require


@dataclass
class TDConfig:
    """Network widths, optimiser, discount, Polyak rate of the target critics, seed.

    ``obs_mean``/``obs_std``: fixed statistics that standardise every state observation the
    networks see. Being config, they travel with every checkpoint, so a policy rebuilt as a
    guide standardises exactly as it was trained.
    """

    REMOVED: ClassVar[dict[str, str]] = {
        "batch_size": "the batch size is the trainer's batch_size (or the learner node's), which fills every batch"}

    hidden: list[int] = field(default_factory=lambda: [256, 256])
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    seed: int = 0
    obs_mean: list[float] | None = None
    obs_std: list[float] | None = None

    def validate(self, where: str) -> None:
        require(isinstance(self.hidden, (list, tuple)) and len(self.hidden) > 0
                and all(isinstance(h, int) and h > 0 for h in self.hidden),
                where, f"hidden must be a non-empty list of positive ints, got {self.hidden!r}")
        self.hidden = list(self.hidden)
        require(self.lr > 0, where, f"lr must be > 0, got {self.lr}")
        require(0 <= self.gamma < 1, where, f"gamma must be in [0, 1), got {self.gamma}")
        require(0 < self.tau <= 1, where, f"tau must be in (0, 1], got {self.tau}")
        require(isinstance(self.seed, int), where, f"seed must be an int, got {self.seed!r}")
        require((self.obs_mean is None) == (self.obs_std is None), where, "obs_mean and obs_std go together")
        if self.obs_std is not None:
            require(len(self.obs_mean) == len(self.obs_std), where,
                    f"obs_mean has {len(self.obs_mean)} entries, obs_std {len(self.obs_std)}")
            require(all(math.isfinite(m) for m in self.obs_mean) and all(s > 0 for s in self.obs_std), where,
                    "obs_mean must be finite and obs_std > 0")
