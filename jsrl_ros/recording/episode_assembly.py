"""Book-keeping of one episode being recorded: which steps arrived on which topic, and its outcome.

Kept apart from the recorder node (no rclpy) so that the rule "an episode is finished when
every piece of every transition is there" is one small, plain piece of code.
"""
from __future__ import annotations

from typing import Any, Iterable

from jsrl_ros.contract.conversions import MalformedMessage
from jsrl_ros.recording.episode_bags import ACTION, IMAGE, INFO, STATE, STEP, EpisodeMeta, controller_per_step


class Repeated(ValueError):
    """A second message for the same step on the same topic: the bridge re-publishes a step whose
    action was lost, unchanged, and receivers treat that idempotently (the first one counts)."""


class Late(ValueError):
    """A message for a step after the episode's end (e.g. the policy answering the final observation)."""


class EpisodeAssembly:
    def __init__(self, episode: int, roles: Iterable[str]) -> None:
        self.episode = episode
        self.steps: dict[str, set[int]] = {role: set() for role in roles}
        self.rewards: dict[int, float] = {}
        self.successes: dict[int, bool] = {}
        self.end: tuple[int, str] | None = None  # (T, "terminated" | "truncated") once the env ended it
        self.guide_step: int | None = None
        self.evaluation = False
        self.label = ""
        self.formats: dict[str, Any] = {}  # role -> what its first message fixed (vector names, image format)

    def check_format(self, role: str, message_format: Any) -> None:
        """Every message of a role in one episode has the format of its first one: a bag must read back as
        arrays. Fixed per episode, so one odd message spoils at most the episode it belongs to."""
        known = self.formats.get(role)
        if known is not None and known != message_format:
            raise MalformedMessage(f"{message_format} in episode {self.episode}, whose {role} messages are {known}")

    def admit(self, role: str, step: int, message_format: Any) -> None:
        """Raise Late or Repeated for a message that must not be recorded; else note its arrival (and its
        format, if it is the role's first)."""
        last = self.last_step(role)
        if last is not None and step > last:
            raise Late(f"step {step} is after the end of episode {self.episode}")
        if step in self.steps[role]:
            raise Repeated(f"a second message for episode {self.episode} step {step}")
        self.steps[role].add(step)
        self.formats.setdefault(role, message_format)

    def last_step(self, role: str) -> int | None:
        """The last step ``role`` has a message for, once the end is known."""
        if self.end is None:
            return None
        length = self.end[0]
        return {INFO: 0, ACTION: length - 1, STEP: length}.get(role, length)

    def add_info(self, guide_step: int, evaluation: bool) -> None:
        self.guide_step, self.evaluation = guide_step, evaluation

    def add_outcome(self, step: int, reward: float, terminated: bool, truncated: bool, success: bool) -> None:
        self.rewards[step], self.successes[step] = reward, success
        if terminated or truncated:
            self.end = (step, "terminated" if terminated else "truncated")

    def complete_through(self, length: int) -> bool:
        """Every message of transitions 0 .. length-1 (and the episode info) has arrived."""
        need = {INFO: range(1), STATE: range(length + 1), IMAGE: range(length + 1), ACTION: range(length),
                STEP: range(1, length + 1)}
        return all(set(need[role]) <= arrived for role, arrived in self.steps.items())

    def finished_length(self) -> int | None:
        """T when the env ended the episode and everything up to T arrived, else None."""
        return self.end[0] if self.end is not None and self.complete_through(self.end[0]) else None

    def reset_length(self) -> int | None:
        """For an episode cut short by a reset: the longest complete prefix with at least one transition."""
        length = 0
        while length + 1 in self.rewards:
            length += 1
        while length > 0 and not self.complete_through(length):
            length -= 1
        return length or None

    def meta(self, length: int, ended: str, topics: dict[str, str], dt: float, guide_type: str,
             seed: int) -> EpisodeMeta:
        steps = range(1, length + 1)
        reported = any(self.successes[t] for t in steps)
        success = self.label == "success" if self.label else reported
        guide_step = int(self.guide_step)  # known: complete_through() requires the episode info
        return EpisodeMeta(episode=self.episode, guide_step=guide_step, evaluation=self.evaluation, success=success,
                           length=length, total_return=float(sum(self.rewards[t] for t in steps)), ended=ended,
                           controller=controller_per_step(guide_step, length), topics=topics, dt=dt,
                           guide_type=guide_type, seed=seed, label=self.label, bridge_success=reported)
