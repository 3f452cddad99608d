"""A graph under attack: started by the embedded bringup (jsrl_ros/bringup/main.py), as a user runs it.

Why the bringup and not hand-started nodes: it is what runs the graph for real — ordered
start-up, the graph's own parameter overrides, and "a node died, stop everything". So
"no node exits" is checked on the real thing: the bringup still running, no ``exited with
code`` line in its output, every node still reporting. Nodes import from ``source``
(the bringup's working directory: the node launchers run ``python -c``, which puts the
working directory first on ``sys.path``), so a source checkout is tested as it is.

The scenario is the graph's own YAML, with a tiny learner set through the bringup's ``--set``
(the harness attacks inputs; it needs the loop running, not learning well).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jsrl_ros.bringup.graph import GRAPHS

TINY_LEARNER = {"hidden": [8], "cem": {"n_samples": 8, "n_iters": 1, "n_elites": 2},
                "target_cem": {"n_samples": 4, "n_iters": 1, "n_elites": 2}}
FAILURE_MARKERS = ("a callback failed", "Traceback (most recent call last)")


@dataclass(frozen=True)
class GraphSpec:
    """One fuzzed graph: the bringup's graph and options, its bridge, its scenario YAML."""

    graph: str
    options: dict[str, str]
    bridge: str
    params_file: str
    learner: dict[str, Any] = field(default_factory=lambda: {"batch_size": 8, "checkpoint_every_updates": 20,
                                                             "max_updates_per_step": 1.0})


SPECS: dict[str, GraphSpec] = {
    "grasping_sim": GraphSpec("grasping_sim", {"headless": "true"}, "sim_bridge", "grasping_sim.yaml"),
    "real_arm": GraphSpec("real_arm", {"hardware": "fake", "headless": "true"}, "real_arm_bridge", "real_arm.yaml"),
    "real_arm_joint": GraphSpec("real_arm", {"hardware": "fake", "headless": "true",
                                             "command_mode": "joint_trajectory"}, "real_arm_bridge", "real_arm.yaml"),
}


def learner_sets(spec: GraphSpec, params: dict[str, Any]) -> list[str]:
    """``--set`` arguments that shrink the scenario's learner (its QT-Opt config keeps its other keys)."""
    learner = params["learner"]["ros__parameters"]
    qtopt = yaml.safe_load(learner.get("qtopt_config") or "{}")
    qtopt.update(TINY_LEARNER)
    sets = [f"learner.{key}={value}" for key, value in spec.learner.items()]
    return sets + [f"learner.qtopt_config={yaml.safe_dump(qtopt, default_flow_style=True, width=10**6).strip()}"]


class GraphRun:
    def __init__(self, spec: GraphSpec, out: Path, domain: int, source: Path, config_dir: Path,
                 duration_s: float = 3600.0) -> None:
        self.spec, self.out, self.domain, self.source = spec, out, domain, source
        self.params_path = config_dir / spec.params_file
        self.params: dict[str, Any] = yaml.safe_load(self.params_path.read_text())  # read here, never rewritten
        self.nodes = [n.name for n in GRAPHS[spec.graph].build(**spec.options, out_dir=str(out)).nodes
                      if not n.terminal]
        self.duration_s = duration_s
        self.proc: subprocess.Popen | None = None
        self._log_offsets: dict[str, int] = {}

    @property
    def log_dir(self) -> Path:
        return self.out / "logs"

    def start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        options = [arg for name, value in self.spec.options.items()
                   for arg in ([f"--{name.replace('_', '-')}"] if value == "true" else
                               [f"--{name.replace('_', '-')}", value])]
        command = [sys.executable, "-m", "jsrl_ros.bringup.main", "--graph", self.spec.graph, *options,
                   "--params", str(self.params_path), "--out", str(self.out), "--duration", str(self.duration_s),
                   *[arg for item in learner_sets(self.spec, self.params) for arg in ("--set", item)]]
        env = {**os.environ, "ROS_DOMAIN_ID": str(self.domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
               "AMENT_PREFIX_PATH": os.environ.get("AMENT_PREFIX_PATH", sys.prefix), "PYTHONUNBUFFERED": "1"}
        with open(self.out / "bringup.log", "wb") as log:
            self.proc = subprocess.Popen(command, cwd=self.source, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        path = self.out / "bringup.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def exited(self) -> list[str]:
        """The nodes the bringup saw die: ``"name (code N)"``."""
        return [f"{name} (code {code})" for name, code in re.findall(r"error: (\w+) exited with code (-?\d+)",
                                                                     self.output())]

    def new_failures(self) -> dict[str, str]:
        """Per node, what its log says about exceptions since the last call (the end of each traceback)."""
        found: dict[str, str] = {}
        for name in self.nodes:
            path = self.log_dir / f"{name}.log"
            if not path.is_file():
                continue
            with open(path, "rb") as f:
                f.seek(self._log_offsets.get(name, 0))
                text = f.read().decode(errors="replace")
                self._log_offsets[name] = f.tell()
            if any(marker in text for marker in FAILURE_MARKERS):
                found[name] = _last_exception(text)
        return found

    def stop(self, timeout_s: float = 90.0) -> dict[str, int]:
        """Ctrl-C to the bringup (it stops every node in order); the nodes' exit codes."""
        if self.proc is None:
            return {}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:  # the bringup hangs: kill it and the nodes it started (own sessions)
                nodes = _children(self.proc.pid)
                os.killpg(self.proc.pid, signal.SIGKILL)
                for pid in nodes:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait()
        line = next((l for l in self.output().splitlines() if l.startswith("exit codes: ")), "")
        return {name: int(code) for name, code in re.findall(r"(\w+) (-?\d+)", line[len("exit codes: "):])}


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _last_exception(text: str) -> str:
    """The exception line(s) closing the last traceback in ``text`` (or the failure line itself)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if any(m in line for m in FAILURE_MARKERS)]
    tail = lines[starts[-1]:] if starts else lines[-5:]
    closing = [l for l in tail[1:] if l and not l.startswith((" ", "Traceback", "["))]
    return (closing[-1] if closing else tail[0]).strip()[:500]
