"""What a human guide sees in the browser: the live camera, who is in control, h, the episode
and how well guide and explorer do, logged to rerun (its web viewer ships inside the wheel).

No rclpy here: the viewer node (jsrl_ros/nodes/viewer.py) turns topics into these calls, so the
same view serves the sims and the real arm. The handover cue is meant to be impossible to miss:
the moment control passes, a large banner changes colour (green GUIDE / orange EXPLORER), says
what the human must do ("YOU HAVE CONTROL" / "LET GO"), and the same words enter the handover log.

Images go out raw: a browser on a busy machine decodes PNG/JPEG too late (a spinner where the
banner should be), so frames and banner changes are sent at the display rate (``show_banner``,
``camera``), while each handover is logged as text and on the owner's plot the moment it happens.

Rolling success is split by who drove the episode: the guide for its first h steps (h > 0, the
explorer finishing), or the explorer alone (h = 0). Training and evaluation episodes both count;
the explorer's series starts once episodes with h = 0 run (JSRL-Random draws them from the start,
the curriculum when it reaches h = 0).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
import rerun as rr
import rerun.blueprint as rrb
import rerun.blueprint.encodings as rrbe

GUIDE, EXPLORER = "guide", "explorer"  # the values of jsrl/control_owner
GUIDE_GREEN = (0, 170, 70)
EXPLORER_ORANGE = (255, 140, 0)
WAITING_GREY = (110, 110, 110)
BANNER_SIZE = (120, 480)  # (height, width) px: rerun scales it to its panel

CAMERA, BANNER, STATUS = "camera", "control/banner", "status"
OWNER, HANDOVERS, GUIDE_STEP, SUCCESS = "control/owner", "control/handovers", "curriculum/guide_step", "success"
TIMELINE = "time"


@dataclass(frozen=True)
class Cue:
    """How one control owner is shown: banner title, what the human must do, colour (RGB)."""

    title: str
    action: str
    colour: tuple[int, int, int]


CUES = {GUIDE: Cue("GUIDE", "YOU HAVE CONTROL", GUIDE_GREEN), EXPLORER: Cue("EXPLORER", "LET GO", EXPLORER_ORANGE)}
WAITING = Cue("WAITING", "for the first step", WAITING_GREY)


def banner(cue: Cue) -> np.ndarray:
    """A (H, W, 3) RGB banner: the title large, the action below it, white on the cue's colour."""
    height, width = BANNER_SIZE
    image = np.empty((height, width, 3), np.uint8)
    image[:] = cue.colour
    for text, scale, thickness, baseline_y in ((cue.title, 2.2, 5, 0.52), (cue.action, 1.1, 2, 0.85)):
        (text_w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thickness)
        cv2.putText(image, text, ((width - text_w) // 2, int(baseline_y * height)), cv2.FONT_HERSHEY_DUPLEX, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return image


class RollingSuccess:
    """Success over the last ``window`` episodes of each kind: guided (h > 0) and explorer alone (h = 0)."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"the success window must be at least 1 episode, got {window}")
        self.outcomes = {GUIDE: deque(maxlen=window), EXPLORER: deque(maxlen=window)}

    def add(self, guide_step: int, success: bool) -> tuple[str, float]:
        """Count one episode; returns its kind and that kind's rolling success."""
        kind = GUIDE if guide_step > 0 else EXPLORER
        outcomes = self.outcomes[kind]
        outcomes.append(float(success))
        return kind, sum(outcomes) / len(outcomes)


@dataclass
class Status:
    """The episode under way, as the text panel shows it; ``step`` comes from the camera frames' stamps."""

    episode: int | None = None
    guide_step: int = 0
    evaluation: bool = False
    step: int | None = None

    def markdown(self) -> str:
        if self.episode is None:
            return "## waiting for the first episode"
        kind = "evaluation" if self.evaluation else "training"
        lines = [f"## episode {self.episode} ({kind})" + ("" if self.step is None else f" · step {self.step}"),
                 f"**h = {self.guide_step}**: the guide drives the first {self.guide_step} steps"]
        if self.step is not None:
            left = self.guide_step - self.step
            lines.append(f"**{left} step{'s' if left != 1 else ''} until the explorer takes over**" if left > 0
                         else "the explorer drives")
        return "\n\n".join(lines)


def blueprint() -> rrb.Blueprint:
    """Camera and banner side by side on top, the episode text under the banner; the owner, h and
    success plots and the handover log below. Panels collapsed: a guide reads it at a glance."""
    recent = rrb.VisibleTimeRange(TIMELINE, start=rrb.TimeRangeBoundary.cursor_relative(seconds=-30.0),
                                  end=rrb.TimeRangeBoundary.cursor_relative())
    return rrb.Blueprint(
        rrb.Vertical(
            rrb.Horizontal(
                rrb.Spatial2DView(origin=CAMERA, name="camera"),
                rrb.Vertical(rrb.Spatial2DView(origin=BANNER, name="who is in control"),
                             rrb.TextDocumentView(origin=STATUS, name="episode"), row_shares=[3, 2]),
                column_shares=[1, 1]),
            rrb.Horizontal(
                rrb.TimeSeriesView(origin=OWNER, name="guide in control (last 30 s)", time_ranges=recent,
                                   axis_y=rrb.ScalarAxis(range=(-0.1, 1.1))),
                rrb.TimeSeriesView(origin=GUIDE_STEP, name="guide-step h"),
                rrb.TimeSeriesView(origin=SUCCESS, name="rolling success", axis_y=rrb.ScalarAxis(range=(0.0, 1.0))),
                rrb.TextLogView(origin=HANDOVERS, name="handovers", columns=rrb.TextLogColumns(text_log_columns=[
                    rrbe.TextLogColumn("Body"), rrbe.TextLogColumn("EntityPath", visible=False),
                    rrbe.TextLogColumn("LogLevel", visible=False)])),
                column_shares=[1, 1, 1, 1.2]),
            row_shares=[3, 2]),
        collapse_panels=True)


class GuideView:
    """Logs the guide's view to ``recording``, each entry at time ``now`` (seconds) on the ``time`` timeline."""

    def __init__(self, recording: rr.RecordingStream, now: float, success_window: int = 20) -> None:
        self.rec = recording
        self.success = RollingSuccess(success_window)
        self.status = Status()
        self.owner: str | None = None
        self.shown: str | None = None  # the owner the banner shows
        self.h: int | None = None  # the curriculum's guide-step
        self.handovers = 0
        self.banners = {owner: rr.Image(banner(cue)) for owner, cue in CUES.items()}
        self.rec.set_time(TIMELINE, timestamp=now)
        self.rec.log(BANNER, rr.Image(banner(WAITING)))
        self._log_status()
        self.rec.log(OWNER, rr.SeriesLines(names="guide in control", colors=GUIDE_GREEN,
                                           interpolation_mode="StepAfter"), static=True)
        self.rec.log(GUIDE_STEP, rr.SeriesLines(names="h", interpolation_mode="StepAfter"), static=True)
        self.rec.log(f"{SUCCESS}/{GUIDE}", rr.SeriesLines(names="guided (h > 0)", colors=GUIDE_GREEN), static=True)
        self.rec.log(f"{SUCCESS}/{EXPLORER}", rr.SeriesLines(names="explorer alone (h = 0)", colors=EXPLORER_ORANGE),
                     static=True)

    def camera(self, rgb: np.ndarray, now: float, episode_step: tuple[int, int] | None = None) -> None:
        """A camera frame (H, W, 3) RGB; ``episode_step``: its step identity, for the countdown. The owner's
        plot gets a point per frame too, so its line runs on between handovers."""
        self.rec.set_time(TIMELINE, timestamp=now)
        self.rec.log(CAMERA, rr.Image(rgb, magnification_filter="Linear"))
        if self.owner is not None:
            self.rec.log(OWNER, rr.Scalars(float(self.owner == GUIDE)))
        if episode_step is not None and episode_step[0] == self.status.episode:
            self.status.step = episode_step[1]
            self._log_status()

    def control(self, owner: str, now: float) -> bool:
        """Who is in control now (``guide``/``explorer``); True when this is a handover, which is cued
        (the banner at the next ``show_banner``)."""
        if owner not in CUES:
            raise ValueError(f"control owner {owner!r}: expected one of {', '.join(CUES)}")
        if owner == self.owner:
            return False
        self.owner = owner
        cue = CUES[owner]
        self.rec.set_time(TIMELINE, timestamp=now)
        self.rec.log(OWNER, rr.Scalars(float(owner == GUIDE)))
        self.rec.log(HANDOVERS, rr.TextLog(f"{cue.action}: the {owner} drives", level="WARN" if owner == EXPLORER
                                           else "INFO", color=cue.colour))
        self.handovers += 1
        return True

    def show_banner(self, now: float) -> None:
        """Bring the banner up to date with who is in control (at most once per display tick: 170 kB each)."""
        if self.owner is not None and self.owner != self.shown:
            self.shown = self.owner
            self.rec.set_time(TIMELINE, timestamp=now)
            self.rec.log(BANNER, self.banners[self.owner])

    def guide_step(self, h: int, now: float) -> None:
        """The curriculum's current guide-step (latched: it arrives once per change)."""
        self.h = h
        self.rec.set_time(TIMELINE, timestamp=now)
        self.rec.log(GUIDE_STEP, rr.Scalars(float(h)))

    def episode(self, episode: int, guide_step: int, evaluation: bool, now: float) -> None:
        """An episode begins: the guide drives its first ``guide_step`` steps. The curriculum's h gets a
        point per episode too, so its plot runs on between changes."""
        self.status = Status(episode, guide_step, evaluation)
        self.rec.set_time(TIMELINE, timestamp=now)
        self._log_status()
        if self.h is not None:
            self.rec.log(GUIDE_STEP, rr.Scalars(float(self.h)))

    def summary(self, guide_step: int, success: bool, now: float) -> None:
        """An episode ended: its kind's rolling success moves."""
        kind, rate = self.success.add(guide_step, success)
        self.rec.set_time(TIMELINE, timestamp=now)
        self.rec.log(f"{SUCCESS}/{kind}", rr.Scalars(rate))

    def _log_status(self) -> None:
        self.rec.log(STATUS, rr.TextDocument(self.status.markdown(), media_type=rr.MediaType.MARKDOWN))
