"""``jsrl train``: one JSRL run from a YAML config, with progress bar, TensorBoard, history and plot."""
from __future__ import annotations

import argparse
from pathlib import Path

from jsrl_learning.logging_utils import HistoryLogger, ProgressLogger, TensorBoardLogger
from jsrl_learning.plotting import plot_learning_curve
from jsrl_learning.trainer import JSRLTrainer, load_train_config


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="train an explorer with JSRL",
                            description="Train with JSRL. Writes checkpoint.pt, config.yaml, history.jsonl/.csv, "
                                        "TensorBoard events and learning_curve.png to the output directory.")
    p.add_argument("--config", required=True, help="training YAML (see config/train/lock_train.yaml)")
    p.add_argument("--out", help="output directory (overrides out_dir in the config)")
    p.add_argument("--resume", metavar="CKPT", help="continue this run from its checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_train_config(args.config)
    if args.out:
        config.out_dir = args.out
    out = Path(config.out_dir)
    trainer = JSRLTrainer(config)
    if args.resume:
        trainer.resume(args.resume)
    history = HistoryLogger(out, resume_step=trainer.env_steps if args.resume else None)
    loggers = [history, TensorBoardLogger(out)]
    if not args.no_progress:
        loggers.append(ProgressLogger(config.total_env_steps, trainer.env_steps, desc="jsrl train"))
    trainer.callbacks.extend(loggers)
    try:
        trainer.train()
    finally:
        for logger in loggers:
            logger.close()
    plot = plot_learning_curve(history.rows, out / "learning_curve.png", title=f"JSRL on {config.env_id}")
    final = next((row for row in reversed(history.rows) if "eval/explorer_success_rate" in row), None)
    summary = "no evaluation ran" if final is None else (
        f"last evaluation at {final['step']} env steps: explorer alone {final['eval/explorer_success_rate']:.2f}, "
        f"guide+explorer {final['eval/combined_success_rate']:.2f} at h={final['eval/guide_steps']:.0f}")
    cpu = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in trainer.cpu.seconds.items())
    print(f"{summary}\ncheckpoint: {trainer.checkpoint_path}\nhistory: {history.csv_path}\nplot: {plot}\n"
          f"CPU of this process: {cpu}")
    return 0
