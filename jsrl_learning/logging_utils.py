"""Training loggers: the trainer calls ``log(step, scalars)`` on each; ``close()`` at the end.

Three small sinks, one job each, so a caller picks what it needs (a ROS node may want the
history but no progress bar):

* ``HistoryLogger``: every record, appended to ``history.jsonl`` as it arrives (a crashed
  run keeps its history; a resumed run continues it) and written as ``history.csv`` on close.
* ``TensorBoardLogger``: scalars for TensorBoard (``tensorboard --logdir OUT_DIR``).
* ``ProgressLogger``: a tqdm bar over env steps showing guide-step, success and updates/s.
"""
from __future__ import annotations

import csv
import json
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping

from tqdm import tqdm

STEP = "step"


class HistoryLogger:
    """Rows ``{"step": step, **scalars}`` in memory, in ``history.jsonl`` and (on close) ``history.csv``."""

    def __init__(self, out_dir: str | Path, resume_step: int | None = None) -> None:
        """With ``resume_step``, earlier history is kept up to that step (a run resumed from a
        checkpoint at that step re-does whatever was logged after it); otherwise it starts afresh."""
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl_path, self.csv_path = self.out_dir / "history.jsonl", self.out_dir / "history.csv"
        self.rows: list[dict[str, float]] = []
        if resume_step is not None and self.jsonl_path.is_file():
            with self.jsonl_path.open() as f:
                self.rows = [row for row in map(json.loads, f) if row[STEP] <= resume_step]
        with self.jsonl_path.open("w") as f:
            f.writelines(json.dumps(row) + "\n" for row in self.rows)
        self._file = self.jsonl_path.open("a")

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        row = {STEP: int(step), **{k: float(v) for k, v in scalars.items()}}
        self.rows.append(row)
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        keys = sorted({k for row in self.rows for k in row} - {STEP})
        with self.csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[STEP, *keys])
            writer.writeheader()
            writer.writerows(self.rows)


class TensorBoardLogger:
    """Every scalar as a TensorBoard scalar, tagged with the trainer's ``group/name`` keys."""

    def __init__(self, out_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # 2 s import: only when asked for

        self.writer = SummaryWriter(log_dir=str(out_dir))

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, float(value), int(step))

    def close(self) -> None:
        self.writer.close()


class ProgressLogger:
    """tqdm bar over env steps; the postfix shows the curriculum's h, success and updates/s.

    ``success`` is the mean over the last ``window`` training episodes (guide part included);
    ``explorer`` the last evaluation of the explorer alone.
    """

    def __init__(self, total_steps: int, initial_step: int = 0, window: int = 20, **tqdm_kwargs: Any) -> None:
        self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True, **tqdm_kwargs)
        self.step = initial_step
        self.successes: deque[float] = deque(maxlen=window)
        self.postfix: dict[str, str] = {}
        self._rate_mark: tuple[float, float] | None = None  # (time, updates) when the rate was last taken

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        if "curriculum/guide_step" in scalars:
            self.postfix["h"] = f"{scalars['curriculum/guide_step']:.0f}"
        if "episode/success" in scalars:
            self.successes.append(float(scalars["episode/success"]))
            self.postfix["success"] = f"{sum(self.successes) / len(self.successes):.2f}"
        if "eval/explorer_success_rate" in scalars:
            self.postfix["explorer"] = f"{scalars['eval/explorer_success_rate']:.2f}"
        if "train/updates" in scalars:
            self._update_rate(float(scalars["train/updates"]))
        if step > self.step:
            self.bar.update(step - self.step)
            self.step = step
        self.bar.set_postfix(self.postfix, refresh=False)

    def _update_rate(self, updates: float) -> None:
        now = time.perf_counter()
        if self._rate_mark is None:
            self._rate_mark = (now, updates)
            return
        elapsed = now - self._rate_mark[0]
        if elapsed >= 1.0:  # a rate over at least a second, not per-episode jitter
            rate = (updates - self._rate_mark[1]) / elapsed
            self.postfix["upd/s"] = f"{rate:.0f}"
            self._rate_mark = (now, updates)

    def close(self) -> None:
        self.bar.close()
