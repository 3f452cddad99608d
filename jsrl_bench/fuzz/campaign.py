"""Attack one input topic of a live graph and check the three properties; a graph kept alive for a campaign.

After each attack:

1. **no node exits**: the bringup still runs and saw no node die, every node reports on
   ``diagnostics`` after the attack and none at ERROR; and no exception escaped a callback
   (the nodes' spin loop survives one, logging "a callback failed": still a bug, reported);
2. **the loop keeps stepping**: the bridge publishes new steps within ``recovery_s`` of the
   attack's end (a liveness bound, not a timing assertion; the recovery time is when the second
   new outcome arrived, see GraphWatch.step_after), and its ``steps`` counter grew;
3. **the arm stays safe** (real-arm graphs): no violation in :class:`ArmCommandCheck`.

Drops are the sum of the nodes' drop-like counters (DROP_KEYS) across the attack.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from jsrl_bench.fuzz.arm_check import ArmCommandCheck, ArmLimits
from jsrl_bench.fuzz.attack import Attacker, draw_shots
from jsrl_bench.fuzz.catalogue import CATALOGUES, ESTOP, Context, InputTopic
from jsrl_bench.fuzz.files import make_bad_files
from jsrl_bench.fuzz.graph_run import SPECS, GraphRun
from jsrl_bench.fuzz.probe import Probe
from jsrl_bench.fuzz.strategies import Shot
from jsrl_bench.fuzz.watch import GraphWatch
from jsrl_ros.contract import topics
from jsrl_ros.contract.qos import RELIABLE
from jsrl_ros.runtime.diagnostics import ERROR

#: subscriptions that are not the graph's inputs: ROS's own, and how the harness sees the graph
NOT_INPUTS = ("/parameter_events", "/diagnostics")

#: counters that count input a node refused or skipped (whatever subset a node has)
DROP_KEYS = ("dropped", "stale", "rejected", "foreign", "future", "malformed", "late", "repeated", "out_of_range")


@dataclass
class Settings:
    examples: int = 25  # generated messages per topic, after the known probes
    flood: int = 1000  # then this many unpaced
    seed: int = 0
    pace_s: float = 0.01  # between the shots of the sequence
    recovery_s: float = 30.0  # the liveness bound: a new step within this after the attack
    report_s: float = 10.0  # every node must report on diagnostics within this after the attack
    startup_s: float = 120.0  # the graph's start-up on a loaded 2-core machine (measured: 10-20 s)


@dataclass
class TopicResult:
    graph: str
    topic: str
    nodes: list[str]
    seed: int
    known: int = 0  # issue 11's probes sent first
    generated: int = 0
    flood: int = 0
    publish_errors: int = 0
    subscribers: int = 0
    drops: float = 0.0
    counter_deltas: dict[str, dict[str, float]] = field(default_factory=dict)
    recovery_s: float | None = None
    alive: bool = True
    clean: bool = True  # no exception escaped a callback
    stepping: bool = True
    arm_safe: bool | None = None
    problems: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return self.known + self.generated + self.flood

    @property
    def held(self) -> bool:
        return self.alive and self.clean and self.stepping and self.arm_safe is not False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "messages": self.messages, "held": self.held}


class GraphDidNotStart(RuntimeError):
    pass


def topic_seed(seed: int, topic: str) -> int:
    """Each topic its own reproducible sequence."""
    return (seed * 1_000_003 + zlib.crc32(topic.encode())) % 2**32


class LiveGraph:
    """A graph under attack: the bringup's processes, the probe node, the watch and the attacker."""

    def __init__(self, name: str, out: Path, domain: int, source: Path, config_dir: Path,
                 settings: Settings) -> None:
        self.name, self.settings = name, settings
        self.spec = SPECS[name]
        self.run = GraphRun(self.spec, out, domain, source, config_dir)
        shared = self.run.params["/**"]["ros__parameters"]
        self.dt = float(shared["dt"])
        self.topics: list[InputTopic] = CATALOGUES[name]()
        bridge = self.run.params.get("real_arm_bridge", {}).get("ros__parameters")
        self.arm = ArmCommandCheck(ArmLimits.from_params(bridge)) if name.startswith("real_arm") else None
        self.ctx = self._context(shared, source)
        self.probe: Probe | None = None
        self.startup_failures: dict[str, str] = {}

    def _context(self, shared: dict[str, Any], source: Path) -> Context:
        params = self.run.params
        ctx = Context(action_names=list(shared["action_names"]), state_names=[], node_cwd=source)
        size = params.get("observation", {}).get("ros__parameters", {}).get("size", 64)
        ctx.obs_size = (size, size)
        if self.arm is not None:
            bridge, fake = params["real_arm_bridge"]["ros__parameters"], params["fake_arm"]["ros__parameters"]
            ctx.joints = list(bridge["axis_joints"]) + list(bridge["finger_joints"])
            ctx.joints_at = [float(v) for v in fake["initial"]] + [float(fake["finger_open"])] * 2
            ctx.driver_camera_size = ctx.camera_size = tuple(fake["camera_size"])
            ctx.deadman_button = int(params.get("policy_arbiter", {}).get("ros__parameters", {})
                                     .get("joy_deadman_button", 4))
        return ctx

    def start(self) -> None:
        self.run.start()
        self.probe = Probe(self.run.domain)
        self.watch = GraphWatch(self.probe.node, self.spec.bridge, self.dt, self.arm)
        self.attacker = Attacker(self.probe, lambda: self.watch.now, self.dt)
        up = self.probe.spin_until(lambda: not self.run.running() or (
            self.watch.reported_since(self.run.nodes, 0.0) and self.watch.steps_seen >= 2 and self.watch.state_names),
            self.settings.startup_s)
        if not (up and self.run.running()):
            tail = self.run.output()[-3000:]
            publishers = {t: sorted(e.node_name for e in self.probe.node.get_publishers_info_by_topic(t))
                          for t in ("/jsrl/state", "/jsrl/step")}
            seen = (f"diagnostics from {sorted(self.watch.heard)}, {self.watch.steps_seen} steps seen, "
                    f"messages by publisher {dict(self.watch.heard_from)}, publishers {publishers}")
            self.close()
            raise GraphDidNotStart(f"{self.name}: the graph did not start stepping within "
                                   f"{self.settings.startup_s:g} s ({seen}); bringup output:\n{tail}")
        self.ctx.state_names = list(self.watch.state_names)
        self.startup_failures = self.run.new_failures()  # not an attack's doing: the caller reports them

    def usable(self) -> bool:
        """Still running and stepping: later attacks on it mean something."""
        return self.run.running() and self.watch.stepped_since(time.monotonic() - self.settings.recovery_s)

    def close(self) -> dict[str, int]:
        codes = self.run.stop()
        if self.probe is not None:
            self.probe.close()
            self.probe = None
        return codes

    def unfuzzed_inputs(self) -> list[str]:
        """``node: topic`` for every topic a node of the graph subscribes to (asked of the ROS graph)
        that the catalogue does not attack: the catalogue must cover every input."""
        fuzzed = {self.probe.node.resolve_topic_name(t.topic) for t in self.topics}
        missing = []
        for name in [*self.run.nodes, "jsrl_bringup"]:
            try:
                subscribed = self.probe.node.get_subscriber_names_and_types_by_node(name, "/")
            except Exception as exc:  # the node is gone: the liveness checks report it
                missing.append(f"{name}: not in the graph ({exc})")
                continue
            missing += [f"{name}: {topic}" for topic, _ in subscribed
                        if topic not in fuzzed and topic not in NOT_INPUTS]
        return missing

    def topic(self, name: str) -> InputTopic:
        return next(t for t in self.topics if t.topic == name)

    # --- one attack ---------------------------------------------------------------------

    def shots(self, topic: InputTopic, seed_offset: int = 0) -> tuple[list[Shot], list[Shot]]:
        """Issue 11's probes for ``topic`` and the generated sequence of this seed."""
        run = self.run
        self.ctx.paths = make_bad_files(run.out / "fuzz_files", run.out / "episodes",
                                        run.out / "checkpoints" / "explorer.pt")
        seed = topic_seed(self.settings.seed + seed_offset, topic.topic)
        return topic.regressions(self.ctx), draw_shots(topic.shots(self.ctx), self.settings.examples, seed)

    def attack(self, topic: InputTopic, seed_offset: int = 0,
               shots: tuple[list[Shot], list[Shot]] | None = None, flood: int | None = None) -> TopicResult:
        """Attack ``topic`` with its probes and generated shots (or the given ``shots``), then judge."""
        s, watch, run = self.settings, self.watch, self.run
        seed = topic_seed(s.seed + seed_offset, topic.topic)
        result = TopicResult(self.name, topic.topic, list(topic.nodes), seed)
        known, drawn = shots if shots is not None else self.shots(topic, seed_offset)
        result.examples = [str(shot) for shot in (known + drawn)[:6]]
        before = {n: dict(c) for n, c in watch.counters.items()}
        steps_before = watch.counters.get(self.spec.bridge, {}).get("steps", 0.0)
        violations_before = self.arm.count if self.arm else 0
        run.new_failures()

        sent = self.attacker.attack(topic, known + drawn, s.flood if flood is None else flood, s.pace_s,
                                    known=len(known))
        result.known, result.generated, result.flood = len(known), len(drawn), sent.flood
        result.publish_errors, result.subscribers = sent.publish_errors, sent.subscribers
        if sent.subscribers == 0:
            result.problems.append(f"no subscriber matched {topic.topic} (expected {', '.join(topic.nodes)})")
        if topic.operator == ESTOP:
            self._operator_clears_estop(result)

        self.probe.spin_until(lambda: watch.stepped_since(sent.stopped) or not run.running(), s.recovery_s)
        if watch.stepped_since(sent.stopped):
            result.recovery_s = round(watch.step_after(sent.stopped) - sent.stopped, 3)
        reported = time.monotonic()
        self.probe.spin_until(lambda: watch.reported_since(run.nodes, reported) or not run.running(), s.report_s)
        self._judge(result, before, steps_before, violations_before, reported)
        return result

    def _judge(self, result: TopicResult, before: dict[str, dict[str, float]], steps_before: float,
               violations_before: int, reported: float) -> None:
        watch, run = self.watch, self.run
        for name, counters in watch.counters.items():
            delta = {k: v - before.get(name, {}).get(k, 0.0) for k, v in counters.items()
                     if v != before.get(name, {}).get(k, 0.0)}
            if delta:
                result.counter_deltas[name] = delta
        result.drops = sum(v for d in result.counter_deltas.values() for k, v in d.items() if k in DROP_KEYS)
        # 1. no node exits
        if not run.running():
            result.alive = False
            result.problems.append("the bringup stopped: " + (", ".join(run.exited()) or run.output()[-500:]))
        silent = [n for n in run.nodes if watch.heard.get(n, 0.0) <= reported]
        if run.running() and silent:
            result.alive = False
            result.problems.append(f"no diagnostics after the attack from {', '.join(silent)}")
        for name, (level, message) in watch.levels.items():
            if level >= ERROR and name in run.nodes:
                result.alive = False
                result.problems.append(f"{name} reports ERROR: {message}")
        for name, line in run.new_failures().items():
            result.clean = False
            result.problems.append(f"{name}: an exception escaped a callback: {line}")
        # 2. the loop keeps stepping
        steps_after = watch.counters.get(self.spec.bridge, {}).get("steps", 0.0)
        if result.recovery_s is None or steps_after <= steps_before:
            result.stepping = False
            result.problems.append(f"no new step within {self.settings.recovery_s:g} s after the attack "
                                   f"({self.spec.bridge} steps {steps_before:g} -> {steps_after:g})")
        # 3. nothing unsafe reached the arm
        if self.arm is not None:
            result.arm_safe = self.arm.count == violations_before
            if not result.arm_safe:
                new = self.arm.violations[min(violations_before, len(self.arm.violations)):][:3]
                result.problems.append(f"{self.arm.count - violations_before} unsafe arm commands/positions, "
                                       f"e.g. {new}")

    def _operator_clears_estop(self, result: TopicResult) -> None:
        """What the operator does after an e-stop: release it (``false``), then ``safety/clear_estop``."""
        node = self.probe.node
        publisher = node.create_publisher(Bool, topics.SAFETY_ESTOP, RELIABLE)
        client = node.create_client(Trigger, topics.SAFETY_CLEAR_ESTOP)
        try:
            self.probe.spin_until(lambda: publisher.get_subscription_count() > 0, 5.0)
            publisher.publish(Bool(data=False))
            self.probe.spin_for(0.3)
            if client.wait_for_service(timeout_sec=5.0):
                future = client.call_async(Trigger.Request())
                self.probe.spin_until(future.done, 10.0)
                if not (future.done() and future.result() and future.result().success):
                    result.problems.append(f"safety/clear_estop refused: {future.result() if future.done() else 'no answer'}")
        finally:
            node.destroy_client(client)
            node.destroy_publisher(publisher)
