"""The real arm's episode count and what each ``jsrl/step`` outcome says (no rclpy).

As in the sim, a motion step's outcome is reward 0, truncated at ``max_steps``; the grasp
attempt ends the episode, and its outcome is composed only when the episode's end is sent
(after the operator's reset), so a human label given meanwhile can set the reward
(``reward_source: label``). The detector's verdict stays the outcome's ``success`` either way.
"""
from __future__ import annotations

from jsrl_ros.contract.names import LABELS
from jsrl_ros.real_arm.task import GraspDetector, outcome

ATTEMPT_END = (0.0, True, False, False)  # reward, terminated, truncated, success as captured; end_row() judges it


class GraspOutcomes:
    """Episode ``episode``, step ``t``: the outcome row (``jsrl/step``'s STEP_NAMES) each step reports."""

    def __init__(self, first_episode: int, max_steps: int, detector: GraspDetector, reward_source: str) -> None:
        self.episode, self.t = first_episode - 1, 0
        self.max_steps, self.detector, self.reward_source = max_steps, detector, reward_source
        self.label = ""  # the human's verdict on this episode (teleop/label)
        self.detected: bool | None = None  # the grasp detector's verdict on this episode's attempt
        self.pending: tuple[float, bool, bool, bool] | None = None  # the outcome the next observation reports
        self.steps = self.unlabelled = 0  # steps taken; ends rewarded by the detector for want of a label

    def begin(self) -> None:
        self.episode, self.t, self.label = self.episode + 1, 0, ""
        self.pending, self.detected = None, None

    def moved(self) -> bool:
        """A motion step ended; True if it truncates the episode (``max_steps``)."""
        self._step()
        truncated = self.t >= self.max_steps
        self.pending = (0.0, False, truncated, False)
        return truncated

    def attempted(self, width_after_lift: float) -> None:
        """The grasp attempt ended the episode: the detector judges the fingers' width."""
        self._step()
        self.detected = self.detector(width_after_lift)
        self.pending = None  # the reward waits for a possible label: composed by end_row()

    def set_label(self, label: str) -> None:
        if label in LABELS:
            self.label = label

    def forget_pending(self) -> None:
        """The episode was abandoned: its last step reports nothing."""
        self.pending = None

    def take_row(self, final: bool) -> list[float] | None:
        """The outcome the observation of step ``t`` carries (None: the first observation of an episode);
        ``final``: it ends the episode."""
        pending, self.pending = self.pending, None
        if not final and pending is None:
            return None
        reward, terminated, truncated, success = pending or ATTEMPT_END
        return [float(v) for v in (self.episode, self.t, reward, terminated, truncated, success)]

    def end_row(self) -> list[float] | None:
        """The ended episode's final outcome once its grasp attempt was judged (with the label, if the
        reward follows it); None for an episode that ended otherwise."""
        if self.detected is None:
            return None
        reward, success = outcome(self.detected, self.label, self.reward_source)
        if self.reward_source == "label" and self.label not in LABELS:
            self.unlabelled += 1
        return [float(self.episode), float(self.t), reward, 1.0, 0.0, float(success)]

    def _step(self) -> None:
        self.t += 1
        self.steps += 1
