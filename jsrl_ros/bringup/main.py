"""Embedded bringup: start a node graph (jsrl_ros/bringup/graph.py) without the launch package.

    jsrl_bringup [--graph grasping_sim] [--guide scripted] [--learner qtopt] [--headless]
                 [--out runs/grasping_sim] [--duration 180] [--episodes N] [--until-guide-step 0]

Every node runs as its own process, the executable ``<prefix>/lib/jsrl_ros/<name>`` (what
``ros2 run`` starts), with ``--ros-args -r __node:=<name> --params-file <scenario YAML>
--params-file <OUT>/params/overrides.yaml``: the graph's options and ``--set`` become that
second file, so the run's exact parameters are on disk next to its results. The bringup
itself is a small node that watches the graph (episode summaries, guide-step, the nodes'
diagnostics), prints progress, writes TensorBoard scalars to ``<OUT>/tensorboard`` and the
nodes' logs to ``<OUT>/logs``. It stops the graph after ``--duration``/``--episodes``/
``--until-guide-step``, on Ctrl-C, or when a node dies: SIGINT to every node (they shut down
cleanly; the recorder closes its bags), then SIGTERM/SIGKILL to any that hang. A node that
reports ERROR on ``diagnostics`` (e.g. the learner whose training thread died) counts as
dead: the run stops with exit code 1 and names it; a WARN is printed once, when it appears.
A message counts only from the node that owns it (checked through the graph API): a status
from the node it names, episode summaries from the recorder, the guide-step from the
curriculum manager. So a stray publisher can neither stop the run (a forged ERROR, a forged
guide-step for ``--until-guide-step``) nor fake its progress.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import JointState
from std_msgs.msg import Int32

from jsrl_learning.config import ConfigError
from jsrl_learning.logging_utils import TensorBoardLogger
from jsrl_ros.bringup.fleet_graphs import check_key_files, namespaced_sections
from jsrl_ros.bringup.graph import GRAPHS, Graph, NodeSpec
from jsrl_ros.bringup.processes import ProcessGroup
from jsrl_ros.bringup.stop_signals import StopSignals
from jsrl_ros.contract import topics
from jsrl_ros.contract.conversions import MalformedMessage, named_vector_values
from jsrl_ros.contract.names import EPISODE_SUMMARY_NAMES
from jsrl_ros.contract.qos import LATCHED, RELIABLE
from jsrl_ros.recording.episode_bags import list_episode_bags
from jsrl_ros.runtime.diagnostics import ERROR, OK
from jsrl_ros.runtime.diagnostics import TOPIC as DIAGNOSTICS
from jsrl_ros.runtime.diagnostics import WARN, counters_of, levels_of

PACKAGE = "jsrl_ros"
PROGRESS_EVERY_S = 5.0
STOP_TIMEOUT_S = 15.0
STARTUP_TIMEOUT_S = 300.0
EXPLORER_WINDOW = 30  # evaluation episodes at h = 0 behind the closing result line
UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"  # the graph API's name for an endpoint whose node is not discovered yet
SUMMARIES, GUIDE_STEP = topics.EPISODE_SUMMARY, topics.GUIDE_STEP
#: topic -> the executables that may publish it (a fleet learner's summaries come from its episode receiver)
OWNERS = {SUMMARIES: ("recorder", "episode_receiver"), GUIDE_STEP: ("curriculum_manager",)}
#: --role -> the graph it starts (single: --graph, the one-machine graph by default)
ROLES = {"actor": "fleet_actor", "learner": "fleet_learner"}


def package_prefix() -> Path:
    """Where the package is installed (ament index first, as ros2 run looks; else this interpreter's prefix)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
        try:
            return Path(get_package_prefix(PACKAGE))
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return Path(sys.prefix)


class Monitor(Node):
    """Watches the graph: episodes, guide-step and the nodes' counters; logs them to TensorBoard.
    ``owners``: topic -> the name of the node whose messages on it count."""

    def __init__(self, tensorboard: TensorBoardLogger, owners: dict[str, str], success_window: int = 20,
                 namespace: str = "") -> None:
        super().__init__("jsrl_bringup", namespace=namespace)
        self.tb = tensorboard
        self.owners = owners
        self.episodes = self.evaluations = self.env_steps = 0
        self.training_success: deque[float] = deque(maxlen=success_window)
        self.last_evaluation: float | None = None
        self.eval_block: list[float] = []
        self.guide_step: int | None = None
        self.explorer_evaluations: deque[float] = deque(maxlen=EXPLORER_WINDOW)  # evaluation episodes at h = 0
        self.counters: dict[str, dict[str, float]] = {}
        self.levels: dict[str, tuple[int, str]] = {}  # each node's health: (level, message)
        self._sources: dict[str, dict[bytes, str]] = {}  # topic -> publisher GID -> node name
        self.create_subscription(JointState, SUMMARIES, self.on_summary, RELIABLE)
        self.create_subscription(Int32, GUIDE_STEP, self.on_guide_step, LATCHED)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS, self.on_diagnostics, RELIABLE)

    def on_summary(self, msg: JointState, info: dict[str, Any]) -> None:
        if self.publisher_name(SUMMARIES, info) != self.owners.get(SUMMARIES):
            return
        try:
            _, guide_step, evaluation, total_return, success, length = named_vector_values(msg, EPISODE_SUMMARY_NAMES)
        except MalformedMessage:
            return  # the curriculum manager counts malformed summaries; progress just skips them
        self.episodes += 1
        self.env_steps += int(length)
        group = "eval" if evaluation else "episode"
        if evaluation:
            self.evaluations += 1
            self.eval_block.append(float(success))
            if int(guide_step) == 0:
                self.explorer_evaluations.append(float(success))
        else:
            self.training_success.append(float(success))
            if self.eval_block:  # the evaluation block before this training episode is complete
                self.last_evaluation = sum(self.eval_block) / len(self.eval_block)
                self.tb.log(self.env_steps, {"eval/success_rate": self.last_evaluation})
                self.eval_block = []
        self.tb.log(self.env_steps, {f"{group}/return": total_return, f"{group}/success": success,
                                     f"{group}/length": length, f"{group}/guide_step": guide_step})

    def on_guide_step(self, msg: Int32, info: dict[str, Any]) -> None:
        if self.publisher_name(GUIDE_STEP, info) != self.owners.get(GUIDE_STEP):
            return
        if msg.data != self.guide_step:
            self.guide_step = msg.data
            self.tb.log(self.env_steps, {"curriculum/guide_step": msg.data})

    def on_diagnostics(self, msg: DiagnosticArray, info: dict[str, Any]) -> None:
        publisher = self.publisher_name(DIAGNOSTICS, info)
        if any(status.name != publisher for status in msg.status):
            return  # a status counts only from the node it names
        for name, (level, message) in levels_of(msg).items():
            if level == WARN and self.levels.get(name, (OK,))[0] != WARN:
                print(f"warning: {name}: {message}", flush=True)
            self.levels[name] = (level, message)
        for name, values in counters_of(msg).items():
            self.counters[name] = values
            if name == "learner":
                self.tb.log(self.env_steps, {f"learner/{k}": v for k, v in values.items()})

    def publisher_name(self, topic: str, info: dict[str, Any]) -> str | None:
        """The node that published a message on ``topic`` (graph API; looked up again for a publisher whose
        node is not known yet: discovery may report an endpoint before its node's name)."""
        gid = bytes((info.get("publisher_gid") or {}).get("data") or b"")
        known = self._sources.get(topic, {})
        if gid not in known:
            known = self._sources[topic] = {bytes(e.endpoint_gid): e.node_name
                                            for e in self.get_publishers_info_by_topic(topic)
                                            if e.node_name != UNKNOWN_NODE}
        return known.get(gid)

    def failed(self, nodes: set[str]) -> tuple[str, str] | None:
        """``(node, message)`` of one of ``nodes`` reporting ERROR: the run treats it as dead."""
        return next(((name, message) for name, (level, message) in self.levels.items()
                     if name in nodes and level >= ERROR), None)

    def result(self) -> str:
        """The run's outcome in one line: did the curriculum reach h = 0, and how the explorer alone does."""
        if not self.explorer_evaluations:
            return f"result: h = 0 not reached (guide-step {'-' if self.guide_step is None else self.guide_step})"
        n = len(self.explorer_evaluations)
        return (f"result: h = 0 reached; the explorer alone succeeded in {sum(self.explorer_evaluations) / n:.2f} "
                f"of its last {n} evaluation episodes")

    def progress(self, elapsed: float) -> str:
        success = (f"{sum(self.training_success) / len(self.training_success):.2f}"
                   if self.training_success else "-")
        evaluation = "-" if self.last_evaluation is None else f"{self.last_evaluation:.2f}"
        learner = self.counters.get("learner", {})
        dropped = sum(v.get("dropped", 0.0) for v in self.counters.values())
        return (f"[{elapsed:6.0f}s] episodes {self.episodes} ({self.evaluations} eval), steps {self.env_steps} | "
                f"guide-step {'-' if self.guide_step is None else self.guide_step} | "
                f"success (last {self.training_success.maxlen}) {success} | eval {evaluation} | "
                f"learner {learner.get('updates_per_s', 0.0):.0f} updates/s, {learner.get('updates', 0.0):.0f} "
                f"updates | dropped {dropped:.0f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--graph", default="grasping_sim", choices=sorted(GRAPHS))
    first.add_argument("--role", default="single", choices=("single", *ROLES),
                       help="single: the one-machine graph (--graph); actor / learner: a role of a fleet "
                            "(docs/fleet.md)")
    known, _ = first.parse_known_args(argv)
    if known.role != "single":
        known.graph = ROLES[known.role]
    graph = GRAPHS[known.graph]
    parser = argparse.ArgumentParser(
        prog="jsrl_bringup", parents=[first],
        description=f"Start the {known.graph} node graph ({graph.description}) without the launch package.")
    for option in graph.options:
        if option.name == "out_dir":
            continue
        flag = f"--{option.name.replace('_', '-')}"
        if option.choices == ("true", "false"):
            parser.add_argument(flag, action="store_const", const="true", default=option.default, help=option.help)
        else:
            parser.add_argument(flag, default=option.default, choices=option.choices or None, help=option.help)
    out_default = next(o.default for o in graph.options if o.name == "out_dir")
    parser.add_argument("--out", default=out_default, help=f"output folder (default {out_default})")
    parser.add_argument("--params", help="scenario YAML (default: the installed config/ file of the graph)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override one parameter (VALUE is YAML; a {mapping} stays a string, for YAML-string "
                             "parameters), e.g. --set learner.batch_size=128 "
                             "--set 'sim_bridge.env_kwargs={max_steps: 5}'")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--episodes", type=int, help="stop after this many recorded episodes")
    parser.add_argument("--until-guide-step", type=int, metavar="H",
                        help="stop once the curriculum's guide-step is at most H (0: the explorer alone)")
    args = parser.parse_args(argv)
    args.graph = known.graph
    args.options = {o.name: getattr(args, o.name) for o in graph.options if o.name != "out_dir"}
    return args


def overrides_file(graph: Graph, sets: list[str], out: Path) -> Path:
    """The graph's per-node overrides plus ``--set``, as a ROS parameter file in the output folder."""
    sections: dict[str, dict[str, Any]] = {spec.name: dict(spec.params) for spec in graph.nodes}
    for item in sets:
        target, sep, value = item.partition("=")
        node, dot, param = target.partition(".")
        if not (sep and dot and node and param):
            raise ConfigError(f"--set {item!r}: expected NODE.PARAM=VALUE")
        if node not in sections:
            raise ConfigError(f"--set {item!r}: no node {node!r} in this graph ({', '.join(sections)})")
        parsed = yaml.safe_load(value) if value else ""
        # a parameter is never a mapping: "{...}" is meant as a YAML-string parameter (env_kwargs, ...)
        sections[node][param] = value if isinstance(parsed, dict) else parsed
    path = out / "params" / "overrides.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(namespaced_sections({name: {"ros__parameters": params} for name, params
                                                        in sections.items() if params}, graph), sort_keys=False))
    return path


def last_line(path: Path) -> str:
    """A node's last words: spin_node ends a configuration error (a mistyped ``--set``) with one line."""
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def next_episode_id(episode_dir: Path) -> int:
    """A restarted graph continues the episode ids after the bags already recorded."""
    ids = [int(bag.name.split("_")[1]) for bag in list_episode_bags(episode_dir)]
    return max(ids) + 1 if ids else 0


def run(args: argparse.Namespace) -> int:
    graph = GRAPHS[args.graph].build(**args.options, out_dir=args.out)
    check_key_files(graph)
    out = Path(args.out)
    prefix = package_prefix()
    lib = prefix / "lib" / PACKAGE
    params = Path(args.params) if args.params else prefix / "share" / PACKAGE / "config" / "ros" / graph.params_file
    missing = [spec.executable for spec in graph.nodes if not (lib / spec.executable).is_file()]
    if missing or not params.is_file():
        raise ConfigError(f"not installed under {prefix}: {', '.join(missing) or params} (install the package "
                          f"non-editable: source scripts/setup_env.sh, or colcon build + source install/setup.bash)")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    episode_dir = next((s.params["episode_dir"] for s in graph.nodes if s.executable == "recorder"), None)
    first = 0 if episode_dir is None else next_episode_id(Path(episode_dir))
    if first > 0:
        for spec in graph.nodes:
            if spec.executable == "sim_bridge":
                spec.params.setdefault("first_episode", first)
        print(f"resuming: {episode_dir} holds episodes, continuing at episode {first}")
    overrides = overrides_file(graph, args.set, out)
    if graph.namespace:  # the scenario's node sections, re-keyed to reach the graph's namespace
        scenario = yaml.safe_load(params.read_text())
        params = out / "params" / "scenario.yaml"
        params.write_text(yaml.safe_dump(namespaced_sections(scenario, graph), sort_keys=False))

    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    stop_signals = StopSignals()
    tensorboard = TensorBoardLogger(out / "tensorboard")
    names = {spec.executable: spec.name for spec in graph.nodes}
    monitor = Monitor(tensorboard, {topic: next((names[e] for e in executables if e in names), "")
                                    for topic, executables in OWNERS.items()}, namespace=graph.namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(monitor)
    children = ProcessGroup((STOP_TIMEOUT_S, 5.0, 5.0))
    specs = {spec.name: spec for spec in graph.nodes}
    status = 0
    start = time.monotonic()
    def launch(spec: NodeSpec) -> None:
        command = [str(lib / spec.executable), "--ros-args", "-r", f"__node:={spec.name}",
                   *(["-r", f"__ns:=/{graph.namespace}"] if graph.namespace else []),
                   *(arg for source, target in spec.remaps for arg in ("-r", f"{source}:={target}")),
                   "--params-file", str(params), "--params-file", str(overrides)]
        children.start(spec.name, command, log_path=out / "logs" / f"{spec.name}.log", terminal=spec.terminal)
        print(f"started {spec.name}: {' '.join(command)}")

    try:
        print(f"logs: {out / 'logs'}, TensorBoard: tensorboard --logdir {out / 'tensorboard'}")
        for spec in graph.nodes:
            if not spec.paces:
                launch(spec)
        # Nodes report on `diagnostics` once constructed (subscribed, checkpoint announced): then the world may move.
        waiting = {spec.name for spec in graph.nodes if not (spec.paces or spec.terminal)}
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not waiting <= set(monitor.counters) and not children.exited() and not stop_signals.first \
                and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.2)
        if not waiting <= set(monitor.counters) and not children.exited() and not stop_signals.first:
            raise ConfigError(f"nodes not up after {STARTUP_TIMEOUT_S:g} s: "
                              f"{', '.join(sorted(waiting - set(monitor.counters)))} (see {out / 'logs'})")
        for spec in graph.nodes:
            if spec.paces and not children.exited() and not stop_signals.first:
                launch(spec)
        next_progress = time.monotonic() + PROGRESS_EVERY_S
        while True:
            if stop_signals.first:
                print(f"\n{stop_signals.first}: stopping the graph")
                break
            executor.spin_once(timeout_sec=0.2)
            now = time.monotonic()
            if now >= next_progress:
                print(monitor.progress(now - start), flush=True)
                next_progress = now + PROGRESS_EVERY_S
            dead = children.exited()
            if dead:
                if all(specs[name].terminal and code == 0 for name, code in dead.items()):
                    print(f"stopping: {next(iter(dead))} quit")
                    break
                for name, code in dead.items():
                    log = out / "logs" / f"{name}.log"
                    # exit code 2 is a configuration error (a misspelt --set): repeat the node's one line
                    said = f": {last_line(log).removeprefix('error: ')}" if code == 2 and log.is_file() else ""
                    print(f"error: {name} exited with code {code}{said}; see {log}", file=sys.stderr)
                status = 1
                break
            failure = monitor.failed({spec.name for spec in graph.nodes})
            if failure:
                name, message = failure
                print(f"error: {name} reports ERROR: {message}; stopping the graph as if it had died; see "
                      f"{out / 'logs' / (name + '.log')}", file=sys.stderr)
                status = 1
                break
            reason = stop_reason(args, monitor, now - start)
            if reason:
                print(f"stopping: {reason}")
                break
    finally:
        stop_signals.noted_only()
        codes = children.stop()
        print(monitor.progress(time.monotonic() - start))
        print("exit codes: " + ", ".join(f"{name} {code}" for name, code in codes.items()))
        print(monitor.result(), flush=True)
        tensorboard.close()
        monitor.destroy_node()
        rclpy.try_shutdown()
    return status


def stop_reason(args: argparse.Namespace, monitor: Monitor, elapsed: float) -> str | None:
    if args.duration is not None and elapsed >= args.duration:
        return f"{args.duration:g} s elapsed"
    if args.episodes is not None and monitor.episodes >= args.episodes:
        return f"{monitor.episodes} episodes recorded"
    if args.until_guide_step is not None and monitor.guide_step is not None \
            and monitor.guide_step <= args.until_guide_step:
        return f"the guide-step reached {monitor.guide_step}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
