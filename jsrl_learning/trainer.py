"""JSRL training on a gymnasium env: Algorithm 1 of Uchendu et al. (2023), top to bottom.

1. ``prepare``: optional warm start (explorer <- guide's networks), optional offline
   pre-training on a dataset, H1 (the guide's mean steps to success, estimated or given)
   and the curriculum's guide-steps H1 > ... > 0.
2. ``train``: per episode, pick h (current stage, or a random stage for JSRL-Random), let
   the guide act for the first h steps and the explorer after, append the whole trajectory
   (guide part too) to the online replay, and update the learner. Every ``eval_every_steps``
   env steps evaluate the combined policy and the explorer alone; the combined result
   feeds the curriculum's advance rule.
3. ``save``/``resume``: a checkpoint restores the run exactly (learner and optimiser,
   online replay, curriculum, RNGs, counters).

Determinism: episode ``i`` resets the env with a seed derived from ``(seed, i)`` and
evaluations use a fixed set of seeds, so env randomness needs no checkpointing.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

import gymnasium as gym
import numpy as np
import torch

import jsrl_learning.envs  # noqa: F401  (registers the core's own gymnasium envs)
from jsrl_learning.checkpoint import load_checkpoint, save_checkpoint
from jsrl_learning.config import ConfigError, from_mapping, in_current_names, read_yaml, require, to_mapping
from jsrl_learning.cpu_clock import CPUClock
from jsrl_learning.curriculum import Curriculum, CurriculumConfig
from jsrl_learning.datasets import DatasetError, load_dataset, locate_dataset
from jsrl_learning.episode import Episode
from jsrl_learning.guides import Guide, GuideSpec, PolicyCheckpointGuide, make_guide
from jsrl_learning.guides.policy_checkpoint import policy_state
from jsrl_learning.learners import LEARNERS, Learner, make_learner
from jsrl_learning.online import OnlineLearning
from jsrl_learning.rollout import EvalResult, estimate_h1, evaluate, run_episode

CHECKPOINT_FORMAT = 2  # 2: QT-Opt/BC encoders carry their standardisation buffers
OFFLINE_LOG_EVERY = 1000
# Independent seed streams derived from the run's seed.
EPISODE_STREAM, EVAL_STREAM, H1_STREAM = 0, 1, 2


@dataclass
class TrainConfig:
    """One JSRL run. ``max_episode_steps`` caps episodes (as truncation) on top of the env's own limit.

    ``eval_env_kwargs`` override ``env_kwargs`` for the evaluation env, e.g. held-out objects
    (``{object_set: test}``) while training sees the training objects. The evaluation env
    serves everything that scores a policy: evaluations, the curriculum's advance rule and
    the guide's reference score (the guide rule's bar). H1, the guide's mean steps to success,
    is estimated on the training env, where the guide acts during training.

    ``timeouts_terminal``: treat running out of time as terminal (no bootstrap). Right when
    the observation contains the time (the grasp env's step / max_steps): the state at the
    limit then really has no future. Otherwise a time-out is bootstrapped.
    """

    RENAMED: ClassVar[dict[str, str]] = {"eval_every": "eval_every_steps", "checkpoint_every": "checkpoint_every_steps"}

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    seed: int = 0
    total_env_steps: int = 100_000
    learner: str = "iql"
    learner_config: dict[str, Any] = field(default_factory=dict)
    guide: GuideSpec = field(default_factory=GuideSpec)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    warm_start: bool = False
    offline_dataset: str | None = None
    offline_updates: int = 0
    updates_per_step: float = 1.0
    batch_size: int = 256
    online_capacity: int = 100_000
    online_fraction: float = 0.75
    eval_every_steps: int = 10_000
    eval_episodes: int = 10
    checkpoint_every_steps: int = 0
    timeouts_terminal: bool = False
    out_dir: str = "runs/jsrl"

    def validate(self, where: str) -> None:
        require(isinstance(self.env_id, str) and bool(self.env_id), where,
                f"env_id must be a gymnasium id, got {self.env_id!r}")
        require(self.learner in LEARNERS, where,
                f"learner: unknown learner {self.learner!r}; known: {', '.join(sorted(LEARNERS))}")
        for name in ("total_env_steps", "batch_size", "online_capacity", "eval_every_steps", "eval_episodes"):
            value = getattr(self, name)
            require(isinstance(value, int) and value > 0, where, f"{name} must be a positive int, got {value!r}")
        for name in ("offline_updates", "checkpoint_every_steps"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 0, where, f"{name} must be an int >= 0, got {value!r}")
        require(self.max_episode_steps is None or self.max_episode_steps > 0, where,
                f"max_episode_steps must be > 0 or null, got {self.max_episode_steps!r}")
        require(self.updates_per_step >= 0, where, f"updates_per_step must be >= 0, got {self.updates_per_step!r}")
        require(0.0 <= self.online_fraction <= 1.0, where,
                f"online_fraction must be in [0, 1], got {self.online_fraction!r}")
        require(self.offline_updates == 0 or self.offline_dataset is not None, where,
                "offline_updates > 0 needs offline_dataset")
        if self.offline_dataset is not None:
            try:
                locate_dataset(self.offline_dataset)
            except DatasetError as exc:
                raise ConfigError(f"{where}: offline_dataset: {exc}") from exc
        self.guide.validate(f"{where}.guide")
        self.curriculum.validate(f"{where}.curriculum")


def load_train_config(path: str | Path) -> TrainConfig:
    """A TrainConfig from YAML; unknown keys, bad values and missing files are named."""
    return from_mapping(TrainConfig, read_yaml(path), str(path))


class TrainLogger(Protocol):
    """Receives scalars keyed ``group/name`` (episode/, train/, eval/, curriculum/, offline/)."""

    def log(self, step: int, scalars: Mapping[str, float]) -> None: ...


class JSRLTrainer:
    """Runs Algorithm 1; ``env_factory``, ``guide`` and ``learner`` default to what ``config`` names."""

    def __init__(self, config: TrainConfig, guide: Guide | None = None,
                 env_factory: Callable[[], gym.Env] | None = None, learner: Learner | None = None,
                 callbacks: Sequence[TrainLogger] = ()) -> None:
        config.validate("train config")
        if env_factory is not None and config.eval_env_kwargs:
            raise ConfigError("train config: eval_env_kwargs apply to envs built from env_id; "
                              "with an env_factory, build the evaluation env yourself")
        self.config = config
        self.env_factory = env_factory or (lambda: gym.make(config.env_id, **config.env_kwargs))
        self.env = self.env_factory()
        self.eval_env = (gym.make(config.env_id, **{**config.env_kwargs, **config.eval_env_kwargs})
                         if config.eval_env_kwargs else self.env_factory())  # evaluation never disturbs training
        self.guide = guide if guide is not None else make_guide(config.guide, self.env, "train config.guide")
        self.learner = learner if learner is not None else make_learner(
            config.learner, config.learner_config, self.env.observation_space, self.env.action_space,
            "train config.learner_config")
        self.callbacks = list(callbacks)
        self.rng = np.random.default_rng(config.seed)
        self.learning = OnlineLearning(
            self.learner, self.env.observation_space, self.env.action_space, capacity=config.online_capacity,
            batch_size=config.batch_size, updates_per_step=config.updates_per_step, rng=self.rng,
            offline=None if config.offline_dataset is None else load_dataset(config.offline_dataset),
            online_fraction=config.online_fraction)
        self.online, self.offline, self.replay = self.learning.online, self.learning.offline, self.learning.replay
        self.curriculum: Curriculum | None = None  # needs H1: built by prepare() or resume()
        self.h1: float | None = None
        self.env_steps = self.episodes = self.offline_updates_done = 0
        self.next_eval = config.eval_every_steps
        self.next_checkpoint = config.checkpoint_every_steps
        self.cpu = CPUClock()  # this process's CPU per part: prepare, collect_and_learn, evaluate, checkpoint

    # ----- Algorithm 1 -------------------------------------------------------------------

    def prepare(self) -> None:
        """Warm start, offline pre-training, H1 and the curriculum's stages."""
        if self.config.warm_start:
            self._warm_start()
        self._pretrain_offline()
        cfg = self.config.curriculum
        if cfg.h1 is None:
            estimate = estimate_h1(self.env, self.guide, cfg.h1_rollouts, self.config.max_episode_steps,
                                   seed=self._seed(H1_STREAM))
            self.h1 = estimate.mean_steps_to_success
            self._log(0, {"curriculum/h1": self.h1, "curriculum/guide_success_rate": estimate.success_rate})
        else:
            self.h1 = float(cfg.h1)
        self.curriculum = Curriculum.from_h1(cfg, self.h1)
        if cfg.rule == "guide" and cfg.reference is None and cfg.mode == "curriculum" and len(self.curriculum.stages) > 1:
            self.curriculum.reference = self._guide_reference()
            self._log(0, {"curriculum/reference": self.curriculum.reference})

    def train(self, until_env_steps: int | None = None) -> None:
        """Collect and learn until ``until_env_steps`` (default: ``total_env_steps``), then checkpoint.

        Stops at the first episode end at or past the target (episodes are never cut short).
        """
        target = self.config.total_env_steps if until_env_steps is None else until_env_steps
        if self.curriculum is None:
            with self.cpu.part("prepare"):
                self.prepare()
        while self.env_steps < target:
            with self.cpu.part("collect_and_learn"):
                h = self.curriculum.guide_step_for_episode(self.rng)
                episode = run_episode(self.env, self.guide, self._explore, h, self.config.max_episode_steps,
                                      seed=self._seed(EPISODE_STREAM, self.episodes))
                self.episodes += 1
                self.env_steps += episode.length
                self.learning.add(episode.to_batch(self.config.timeouts_terminal))
                metrics = self.learning.update()
                self._log_episode(episode, metrics)
            if self.env_steps >= self.next_eval:
                with self.cpu.part("evaluate"):
                    self.evaluate_and_advance()
                self.next_eval += self.config.eval_every_steps * (1 + (self.env_steps - self.next_eval)
                                                                  // self.config.eval_every_steps)
            if self.config.checkpoint_every_steps and self.env_steps >= self.next_checkpoint:
                with self.cpu.part("checkpoint"):
                    self.save()
                self.next_checkpoint = self.env_steps + self.config.checkpoint_every_steps
        with self.cpu.part("checkpoint"):
            self.save()

    def evaluate_and_advance(self) -> dict[str, float]:
        """Score the combined policy (current h) and the explorer alone; advance the curriculum.

        At h = 0 the combined policy is the explorer alone, so it is evaluated once.
        """
        cfg, h = self.config, self.curriculum.guide_step
        seed = self._seed(EVAL_STREAM)
        combined = evaluate(self.eval_env, self.guide, self._greedy, h, cfg.eval_episodes, seed,
                            cfg.max_episode_steps)
        explorer = combined if h == 0 else evaluate(self.eval_env, self.guide, self._greedy, 0,
                                                    cfg.eval_episodes, seed, cfg.max_episode_steps)
        advanced = self.curriculum.record_evaluation(self._score(combined), self._score(explorer))
        scalars = {
            "eval/guide_steps": h,
            "eval/combined_success_rate": combined.success_rate, "eval/combined_return": combined.mean_return,
            "eval/explorer_success_rate": explorer.success_rate, "eval/explorer_return": explorer.mean_return,
            "curriculum/advanced": float(advanced), "curriculum/stage": self.curriculum.stage,
            "curriculum/guide_step": self.curriculum.guide_step,
        }
        if self.curriculum.last_average is not None:
            scalars["curriculum/moving_average"] = self.curriculum.last_average
        if self.curriculum.best is not None:
            scalars["curriculum/best"] = self.curriculum.best
        if self.curriculum.threshold is not None:
            scalars["curriculum/threshold"] = self.curriculum.threshold
        self._log(self.env_steps, scalars)
        return scalars

    # ----- pieces ------------------------------------------------------------------------

    def _guide_reference(self) -> float:
        """The guide alone on the evaluation env, scored as evaluations are: the guide rule's bar."""
        rollouts = self.config.curriculum.h1_rollouts
        result = evaluate(self.eval_env, self.guide, self.guide.act, sys.maxsize, rollouts, self._seed(H1_STREAM, 1),
                          self.config.max_episode_steps)
        return self._score(result)

    def _score(self, result: EvalResult) -> float:
        return result.mean_return if self.config.curriculum.metric == "return" else result.success_rate

    def _explore(self, obs: Any) -> Any:
        return self.learner.act(obs, explore=True)

    def _greedy(self, obs: Any) -> Any:
        return self.learner.act(obs, explore=False)

    def _seed(self, stream: int, index: int = 0) -> int:
        return int(np.random.SeedSequence([self.config.seed, stream, index]).generate_state(1)[0])

    @property
    def updates(self) -> int:
        return self.learning.updates

    def _warm_start(self) -> None:
        """Cold start is JSRL's default; a warm start copies a same-class guide's learner state."""
        source = self.guide.learner if isinstance(self.guide, PolicyCheckpointGuide) else None
        if type(source) is not type(self.learner):
            got = type(self.guide).__name__ if source is None else f"a {type(source).__name__} checkpoint"
            raise ConfigError(
                f"warm_start: the guide must be a policy_checkpoint of the explorer's class "
                f"({type(self.learner).__name__}) to copy its networks; the guide is {got}")
        self.learner.load_state_dict(copy.deepcopy(source.state_dict()))

    def _pretrain_offline(self) -> None:
        while self.offline_updates_done < self.config.offline_updates:
            metrics = self.learning.offline_step()
            self.offline_updates_done += 1
            if self.offline_updates_done % OFFLINE_LOG_EVERY == 0 \
                    or self.offline_updates_done == self.config.offline_updates:
                self._log(self.offline_updates_done, {f"offline/{k}": v for k, v in metrics.items()})

    def _log_episode(self, episode: Episode, metrics: dict[str, float]) -> None:
        self._log(self.env_steps, {
            "episode/return": episode.total_return, "episode/length": episode.length,
            "episode/success": float(episode.success), "episode/guide_steps": episode.guide_steps,
            "curriculum/stage": self.curriculum.stage, "curriculum/guide_step": self.curriculum.guide_step,
            "train/updates": self.updates, **metrics,
        })

    def _log(self, step: int, scalars: Mapping[str, float]) -> None:
        for callback in self.callbacks:
            callback.log(step, scalars)

    # ----- checkpoints -------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.config.out_dir) / "checkpoint.pt"

    def save(self, path: str | Path | None = None) -> Path:
        """Checkpoint everything needed to continue exactly; ``config.yaml`` is written beside it."""
        path = Path(path) if path is not None else self.checkpoint_path
        config = to_mapping(self.config)
        state = {
            "format": CHECKPOINT_FORMAT, "config": config,
            "policy": policy_state(self.config.learner, self.config.learner_config,
                                   self.env.observation_space, self.env.action_space, self.learner),
            "online_replay": self.online.state_dict(),
            "curriculum": self.curriculum.state_dict(), "h1": self.h1,
            "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "counters": {"env_steps": self.env_steps, "episodes": self.episodes, "updates": self.updates,
                         "offline_updates_done": self.offline_updates_done,
                         "update_credit": self.learning.credit, "next_eval": self.next_eval,
                         "next_checkpoint": self.next_checkpoint},
        }
        if hasattr(self.guide, "state_dict"):  # a guide with its own RNG (e.g. a noisy script)
            state["guide"] = self.guide.state_dict()
        save_checkpoint(path, state, config)
        return path

    def resume(self, path: str | Path) -> None:
        """Restore a checkpoint of this run; the offline buffer is reloaded from the dataset."""
        state = load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path}: checkpoint format {state.get('format')!r}, expected {CHECKPOINT_FORMAT}")
        for key in ("env_id", "learner"):
            if state["config"][key] != getattr(self.config, key):
                raise ConfigError(f"{path}: checkpoint has {key}={state['config'][key]!r}, "
                                  f"this run {getattr(self.config, key)!r}")
        self.learner.load_state_dict(state["policy"]["learner"])
        self.online.load_state_dict(state["online_replay"])
        self.curriculum = Curriculum(self.config.curriculum, state["curriculum"]["stages"])
        self.curriculum.load_state_dict(state["curriculum"])
        self.h1 = state["h1"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        counters = dict(state["counters"])
        self.learning.updates, self.learning.credit = counters.pop("updates"), counters.pop("update_credit")
        for name, value in counters.items():
            setattr(self, name, value)
        if "guide" in state:
            self.guide.load_state_dict(state["guide"])

    @classmethod
    def from_checkpoint(cls, path: str | Path, guide: Guide | None = None,
                        env_factory: Callable[[], gym.Env] | None = None,
                        callbacks: Sequence[TrainLogger] = ()) -> "JSRLTrainer":
        """Rebuild a run from its checkpoint alone (its saved config) and resume it."""
        config = from_mapping(TrainConfig, in_current_names(TrainConfig, load_checkpoint(path)["config"]),
                              f"{path}: config")
        trainer = cls(config, guide=guide, env_factory=env_factory, callbacks=callbacks)
        trainer.resume(path)
        return trainer

