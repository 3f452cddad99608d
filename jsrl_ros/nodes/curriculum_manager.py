"""Curriculum manager node: owns JSRL's guide-step and publishes it latched.

Thin adapter over :class:`jsrl_learning.curriculum.Curriculum` (``rule``: ``guide``, the
robust default, or the paper's literal ``paper``; ``reference`` NaN lets stage 0's first
full window set the guide's bar). Evaluations of the combined policy come in; the
guide-step choices go out. The arbiter draws each episode's
h uniformly from ``guide_step_choices`` — one element in curriculum mode, {H_1..H_n, 0} in
random mode — so both modes need one rule downstream. State is persisted after every
evaluation, so a restarted graph resumes at the same stage.

Evaluations come from ``jsrl/evaluation`` (one value each) or from the recorder's
``jsrl/episode_summary``: every ``eval_episodes`` evaluation episodes run at the current
guide-step are averaged into one evaluation (:class:`EvaluationAverager`; ``metric`` picks
the episodes' return or success).

Finite is not enough: an evaluation outside ``evaluation_range`` (what the task can produce:
[0, 1] for success rates, the task's return bounds for returns) is dropped and counted, as is
a summary whose fields the recorder never writes. The state file is checked when it is read:
a corrupt one (not JSON, wrong types, Infinity/NaN, a stage outside the stages, a score outside
``evaluation_range``) is a ConfigError naming the file, at start.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Int32, Int32MultiArray

from jsrl_learning.checkpoint import atomic_write_bytes
from jsrl_learning.config import ConfigError, from_mapping
from jsrl_learning.curriculum import Curriculum, CurriculumConfig
from jsrl_learning.interleaved import EvaluationAverager
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, named_vector_values
from jsrl_ros.contract.names import EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.runtime.checked_node import CheckedNode
from jsrl_ros.runtime.dataclass_params import declare_dataclass
from jsrl_ros.runtime.diagnostics import WARN, Health, publish_counters
from jsrl_ros.runtime.sources import GraphWatch
from jsrl_ros.runtime.spin import spin_node
from jsrl_ros.runtime.writable import require_writable_dir

SAVE_ALARM = "state_file"


class CurriculumManager(CheckedNode):
    def __init__(self, **node_kwargs) -> None:
        super().__init__("curriculum_manager", **node_kwargs)
        where = f"{self.get_name()} parameters"
        params = declare_dataclass(self, CurriculumConfig, skip=("h1_rollouts",))  # h1 is given, not estimated
        state_file = self.declare_parameter("state_file", "").value
        eval_episodes = self.declare_parameter("eval_episodes", 5).value
        self.low, self.high = self.evaluation_range(self.declare_parameter("evaluation_range", [0.0, 1.0]).value,
                                                    params["metric"], where)
        config = from_mapping(CurriculumConfig, params, where)
        if eval_episodes < 1:
            raise ConfigError(f"{where}: eval_episodes must be >= 1, got {eval_episodes}")
        self.averager = EvaluationAverager(eval_episodes, config.metric)
        if config.h1 is None:
            raise ConfigError(f"{where}: h1 must be set (the guide's mean steps to success)")
        self.curriculum = Curriculum.from_h1(config, config.h1)
        self.state_path = Path(state_file) if state_file else None
        if self.state_path is not None:
            require_writable_dir(self.state_path.parent, f"{where}: state_file")
            if self.state_path.is_file():
                self.load_state(self.state_path)
        self.dropped = 0
        self.health = Health()
        self.guide_step_pub = self.create_publisher(Int32, topics.GUIDE_STEP, LATCHED)
        self.choices_pub = self.create_publisher(Int32MultiArray, topics.GUIDE_STEP_CHOICES, LATCHED)
        self.create_subscription(Float64, topics.EVALUATION, self.on_evaluation, RELIABLE)
        self.create_subscription(JointState, topics.EPISODE_SUMMARY, self.on_episode_summary, RELIABLE)
        self.watch = GraphWatch(self, self.health)  # one arbiter/recorder feeds it; a second manager is refused
        self.watch.expect(topics.EVALUATION)
        self.watch.expect(topics.EPISODE_SUMMARY)
        self.watch.own([topics.GUIDE_STEP, topics.GUIDE_STEP_CHOICES])
        self.publish_state()
        publish_counters(self, lambda: {"stage": self.curriculum.stage, "guide_step": self.curriculum.guide_step,
                                        "dropped": self.dropped}, health=self.health)
        self.get_logger().info(f"{config.mode} over stages {self.curriculum.stages}, "
                               f"guide_step={self.curriculum.guide_step}, evaluations in [{self.low:g}, {self.high:g}]")

    @staticmethod
    def evaluation_range(bounds: list[float], metric: str, where: str) -> tuple[float, float]:
        """``(low, high)``: finite, ordered, and within [0, 1] for success rates."""
        if len(bounds) != 2 or not all(math.isfinite(b) for b in bounds) or not bounds[0] < bounds[1]:
            raise ConfigError(f"{where}: evaluation_range must be [low, high], finite with low < high, "
                              f"got {list(bounds)}")
        if metric == "success_rate" and not 0 <= bounds[0] < bounds[1] <= 1:
            raise ConfigError(f"{where}: evaluation_range must lie in [0, 1] for metric success_rate, "
                              f"got {list(bounds)}")
        return float(bounds[0]), float(bounds[1])

    def load_state(self, path: Path) -> None:
        """Resume from the state file; ConfigError naming it if it is not a state this task can have."""
        try:
            self.curriculum.load_state_dict(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON, or a bad state
            raise ConfigError(f"{path}: not a usable curriculum state ({exc}); fix or delete the file") from exc
        outside = [v for v in self.curriculum.values() if not self.low <= v <= self.high]
        if outside:
            raise ConfigError(f"{path}: scores {outside} outside evaluation_range [{self.low:g}, {self.high:g}]; "
                              f"fix or delete the file")
        self.get_logger().info(f"resumed from {path} at stage {self.curriculum.stage}")

    def drop(self, topic: str, reason: str) -> None:
        self.dropped += 1
        self.get_logger().warning(f"{topic}: dropped ({reason}; {self.dropped} dropped so far)",
                                  throttle_duration_sec=2.0)

    def in_range(self, value: float) -> bool:
        return math.isfinite(value) and self.low <= value <= self.high

    def on_evaluation(self, msg: Float64) -> None:
        if not self.in_range(msg.data):
            return self.drop(topics.EVALUATION, f"{msg.data!r} is outside evaluation_range "
                                                f"[{self.low:g}, {self.high:g}]")
        self.record(msg.data)

    def on_episode_summary(self, msg: JointState) -> None:
        try:
            episode, guide_step, evaluation, total_return, success, length = named_vector_values(
                msg, EPISODE_SUMMARY_NAMES)
        except MalformedMessage as exc:
            return self.drop(topics.EPISODE_SUMMARY, str(exc))
        if not (guide_step >= 0 and guide_step == int(guide_step) and length >= 1 and length == int(length)
                and evaluation in (0.0, 1.0) and success in (0.0, 1.0)):
            return self.drop(topics.EPISODE_SUMMARY, f"guide_step {guide_step:g} and length {length:g} must be "
                                                     f"whole numbers (length >= 1), evaluation {evaluation:g} and "
                                                     f"success {success:g} 0 or 1")
        if self.averager.metric == "return" and not self.in_range(total_return):
            return self.drop(topics.EPISODE_SUMMARY, f"return {total_return:g} is outside evaluation_range "
                                                     f"[{self.low:g}, {self.high:g}]")
        if evaluation:
            value = self.averager.add(int(guide_step), self.curriculum.guide_step, total_return, bool(success))
            if value is not None:
                self.get_logger().info(f"evaluation at guide_step={self.curriculum.guide_step}: {value:.3f} "
                                       f"(mean of {self.averager.episodes} episodes, last {int(episode)})")
                self.record(value)

    def record(self, value: float) -> None:
        if self.curriculum.record_evaluation(value):
            self.get_logger().info(f"advanced to stage {self.curriculum.stage}: "
                                   f"guide_step={self.curriculum.guide_step} (average {self.curriculum.last_average:.3f}, "
                                   f"bar {self.curriculum.threshold:.3f})")
            self.publish_state()
        self.save_state()

    def publish_state(self) -> None:
        choices = (self.curriculum.random_choices if self.curriculum.config.mode == "random"
                   else [self.curriculum.guide_step])
        self.guide_step_pub.publish(Int32(data=self.curriculum.guide_step))
        self.choices_pub.publish(Int32MultiArray(data=choices))

    def save_state(self) -> None:
        """Persist the stage; a failed write (disk full) is a WARN and is retried at the next evaluation."""
        if self.state_path is None:
            return
        try:
            atomic_write_bytes(self.state_path, json.dumps(self.curriculum.state_dict()).encode())
        except OSError as exc:
            self.health.alarm(SAVE_ALARM, WARN, f"{self.state_path} not saved: {exc}")
            self.get_logger().error(f"{self.state_path}: state not saved ({exc}); a restart would resume from "
                                    f"an older stage", throttle_duration_sec=10.0)
            return
        self.health.clear(SAVE_ALARM)


def main(argv: list[str] | None = None) -> int:
    return spin_node(CurriculumManager, argv)


if __name__ == "__main__":
    raise SystemExit(main())
