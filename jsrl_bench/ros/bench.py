"""``jsrl bench ros``: what the ROS layer costs — arbiter latency and lockstep throughput, over real rclpy.

Two measurements, every node in its own process (as the bringup runs them), talking over
Fast DDS on localhost in a private ``ROS_DOMAIN_ID``:

* **arbiter latency**: this process plays the bridge. Per sample it publishes one step's
  ``jsrl/guide_action``, (image mode) a 64×64 rgb8 ``jsrl/obs/image`` and ``jsrl/state``, and
  times until the arbiter's ``jsrl/action`` for that stamp arrives (round trip: both
  transports, the arbiter's join and its answer). Modes ``state`` and ``image``: the scripted
  guide is in control (h larger than the run), so no network is timed — only what ROS adds.
  Mode ``state_explorer``: the explorer acts (QT-Opt with the grasping scenario's network
  and CEM, untrained weights), so the time includes the policy call.
* **lockstep**: ``sim_bridge`` (grasping sim + its scripted guide) and ``policy_arbiter`` run
  the loop; steps/s is counted on ``jsrl/step``. Next to it, in this process, the bare
  gymnasium loop with the same env and the same scripted guide.

rclpy and the ROS layer are imported only when the bench runs, so ``jsrl`` starts without them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from jsrl_bench.grasp.world import GRASP_ENV_ID, scripted_guide_target
from jsrl_learning.config import ConfigError
from jsrl_ros.contract import topics

HELP = "ROS layer: arbiter obs->action latency (state, 64 px image) and lockstep graph vs bare env steps/s"
ACTION_NAMES = ["dx", "dy", "dz", "dyaw", "gripper"]
ENV_KWARGS = {"task": "indiscriminate", "object_set": "train", "num_objects": 5, "max_steps": 15}
DT = 0.1
#: the learner of config/ros/grasping_sim.yaml, for the explorer's latency
EXPLORER_CONFIG = {"hidden": [64, 64], "cem": {"n_samples": 32, "n_iters": 2, "n_elites": 4}, "seed": 0}
LATENCY_MODES = ("state", "image", "state_explorer")
START_TIMEOUT_S = 60.0  # node start-up on a loaded 2-core machine (imports torch, pybullet)


@dataclass(frozen=True)
class Settings:
    samples: int = 2000  # timed observations per obs mode
    warmup: int = 100  # answered observations before timing starts
    graph_steps: int = 1500  # env steps timed in the graph and in the bare loop
    image_size: int = 64
    state_dim: int = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Settings()
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--samples", type=int, default=d.samples, help="timed observations per obs mode")
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed observations first")
    p.add_argument("--graph-steps", type=int, default=d.graph_steps, help="env steps timed, graph and bare")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc, Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Nodes:
    """Node processes sharing one params file and a private ROS domain, run by the ROS layer's
    ``ProcessGroup`` (each in its own group; stopped with SIGINT, then SIGTERM, then SIGKILL)."""

    def __init__(self, params: dict[str, Any], domain: int, workdir: Path) -> None:
        from jsrl_ros.bringup.processes import ProcessGroup

        self.params_file = workdir / "params.yaml"
        self.params_file.write_text(yaml.safe_dump(params))
        self.env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
        self.workdir = workdir
        self.group = ProcessGroup((10.0, 5.0, 5.0))

    def start(self, name: str) -> subprocess.Popen:
        command = [sys.executable, "-m", f"jsrl_ros.nodes.{name}", "--ros-args", "--params-file", str(self.params_file)]
        return self.group.start(name, command, log_path=self.workdir / f"{name}.log", env=self.env)

    def check_alive(self) -> None:
        for name, code in self.group.exited().items():
            log = (self.workdir / f"{name}.log").read_text()[-2000:]
            raise RuntimeError(f"bench ros: node {name} exited with {code}:\n{log}")

    def stop(self) -> None:
        self.group.stop()


def _params(obs_mode: str, guide_target: str) -> dict[str, Any]:
    shared = {"env_id": GRASP_ENV_ID, "env_kwargs": yaml.safe_dump(ENV_KWARGS, default_flow_style=True).strip(),
              "obs_mode": obs_mode, "dt": DT, "action_names": ACTION_NAMES, "eval_every_episodes": 0, "seed": 0}
    return {"/**": {"ros__parameters": shared},
            "sim_bridge": {"ros__parameters": {"guide_target": guide_target, "guide_kwargs": "{noise: 0.0}"}},
            "policy_arbiter": {"ros__parameters": {"guide": "scripted"}}}


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()), "mean_ms": float(a.mean())}


class _Ros:
    """This process's private rclpy context, node and executor."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.experimental import EventsExecutor

        self.rclpy = rclpy
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("jsrl_bench_ros", context=self.context)
        self.executor = EventsExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.01)
        return True

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.context)


def _latched_choices(ros: _Ros, h: int) -> None:
    from std_msgs.msg import Int32MultiArray

    from jsrl_ros.contract.qos import LATCHED
    pub = ros.node.create_publisher(Int32MultiArray, topics.GUIDE_STEP_CHOICES, LATCHED)
    pub.publish(Int32MultiArray(data=[h]))


def _explorer_checkpoint(path: Path, state_dim: int) -> Path:
    """An untrained QT-Opt explorer for ``state_dim`` observations, as the learner node writes it."""
    import gymnasium as gym

    from jsrl_learning.checkpoint import save_checkpoint
    from jsrl_learning.config import from_mapping
    from jsrl_learning.guides.policy_checkpoint import policy_state
    from jsrl_learning.learners.qtopt import QTOptConfig, QTOptLearner

    obs = gym.spaces.Box(-1.0, 1.0, (state_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (len(ACTION_NAMES),), np.float32)
    learner = QTOptLearner(from_mapping(QTOptConfig, EXPLORER_CONFIG, "bench ros explorer"), obs, act)
    save_checkpoint(path, {"policy": policy_state("qtopt", EXPLORER_CONFIG, obs, act, learner)})
    return path


def measure_latency(mode: str, settings: Settings, domain: int, workdir: Path) -> dict[str, Any]:
    """Round-trip ms from publishing an observation to the arbiter's action for it (separate processes)."""
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from jsrl_ros.contract.conversions import named_vector, numpy_to_image
    from jsrl_ros.contract.qos import LATCHED, RELIABLE, SENSOR
    from jsrl_ros.contract.step_clock import StepClock, stamp_key
    from jsrl_ros.contract.vectors import state_names

    clock = StepClock(DT)
    total = settings.warmup + settings.samples
    ros = _Ros(domain)
    obs_mode = "image" if mode == "image" else "state"
    explorer = mode == "state_explorer"
    children = Nodes(_params(obs_mode, ""), domain, workdir)
    arbiter = children.start("policy_arbiter")
    try:
        answered: dict[int, float] = {}
        ros.node.create_subscription(JointState, topics.ACTION,
                                     lambda m: answered.setdefault(stamp_key(m.header.stamp), time.perf_counter()),
                                     RELIABLE)
        state_pub = ros.node.create_publisher(JointState, topics.STATE, RELIABLE)
        guide_pub = ros.node.create_publisher(JointState, topics.GUIDE_ACTION, RELIABLE)
        image_pub = ros.node.create_publisher(Image, topics.OBS_IMAGE, SENSOR)
        _latched_choices(ros, 0 if explorer else total + 1)  # who acts at every step
        if explorer:
            checkpoint = _explorer_checkpoint(workdir / "explorer.pt", settings.state_dim)
            ros.node.create_publisher(String, topics.CHECKPOINT, LATCHED).publish(String(data=str(checkpoint)))
        rng = np.random.default_rng(0)
        state = rng.uniform(-1, 1, settings.state_dim).astype(np.float32)
        image = rng.integers(0, 256, (settings.image_size, settings.image_size, 3), dtype=np.uint8)
        guide = rng.uniform(-1, 1, len(ACTION_NAMES)).astype(np.float32)
        names = state_names(settings.state_dim)

        def publish(t: int) -> float:
            stamp = clock.stamp(0, t)
            sent = time.perf_counter()
            guide_pub.publish(named_vector(ACTION_NAMES, guide, stamp))
            if obs_mode == "image":
                image_pub.publish(numpy_to_image(image, stamp, "camera"))
            state_pub.publish(named_vector(names, state, stamp))
            return sent

        def ready() -> bool:  # the first observation is re-sent until the arbiter is up and answers
            children.check_alive()
            publish(0)
            return ros.spin_until(lambda: stamp_key(clock.stamp(0, 0)) in answered, 0.5)

        if not ros.spin_until(ready, START_TIMEOUT_S):
            raise RuntimeError(f"bench ros: the arbiter never answered ({workdir / 'policy_arbiter.log'})")
        cpu0 = _cpu_s(arbiter.pid)
        ms: list[float] = []
        for t in range(1, total):
            sent = publish(t)
            key = stamp_key(clock.stamp(0, t))
            if not ros.spin_until(lambda: key in answered, 10.0):
                children.check_alive()
                raise RuntimeError(f"bench ros: no answer to observation {t} within 10 s ({mode} mode)")
            if t >= settings.warmup:
                ms.append((answered[key] - sent) * 1e3)
        cpu = _cpu_s(arbiter.pid) - cpu0
        return {**_percentiles(ms), "samples": len(ms),
                "arbiter_cpu_ms_per_obs": cpu * 1e3 / (total - 1)}
    finally:
        children.stop()
        ros.close()


def measure_graph(settings: Settings, domain: int, workdir: Path) -> dict[str, Any]:
    """Lockstep steps/s of sim_bridge + policy_arbiter (own processes), counted on ``jsrl/step``."""
    from sensor_msgs.msg import JointState

    from jsrl_ros.contract.qos import RELIABLE

    ros = _Ros(domain)
    children = Nodes(_params("state", scripted_guide_target()), domain, workdir)
    try:
        steps: list[float] = []
        ros.node.create_subscription(JointState, topics.STEP, lambda m: steps.append(time.perf_counter()), RELIABLE)
        _latched_choices(ros, ENV_KWARGS["max_steps"] + 1)  # the scripted guide drives every step
        nodes = {name: children.start(name) for name in ("policy_arbiter", "sim_bridge")}

        def reached(n: int) -> bool:
            children.check_alive()
            return len(steps) >= n

        if not ros.spin_until(lambda: reached(settings.warmup), START_TIMEOUT_S):
            raise RuntimeError(f"bench ros: the graph made no steps ({workdir})")
        cpu0 = {name: _cpu_s(proc.pid) for name, proc in nodes.items()}
        own0 = time.process_time()
        begin = len(steps)
        if not ros.spin_until(lambda: reached(begin + settings.graph_steps), 600.0):
            raise RuntimeError(f"bench ros: the graph stalled after {len(steps)} steps ({workdir})")
        end = len(steps)
        wall = steps[end - 1] - steps[begin - 1]
        n = end - begin
        cpu = {name: _cpu_s(proc.pid) - cpu0[name] for name, proc in nodes.items()}
        cpu["bench_subscriber"] = time.process_time() - own0
        return {"steps": n, "wall_s": wall, "steps_per_s": n / wall,
                "cpu_ms_per_step": {k: v * 1e3 / n for k, v in cpu.items()}}
    finally:
        children.stop()
        ros.close()


def measure_bare(settings: Settings) -> dict[str, Any]:
    """The same env and scripted guide in a plain gymnasium loop (no ROS), in this process."""
    import gymnasium as gym

    from jsrl_learning.guides import GuideSpec, make_guide

    env = gym.make(GRASP_ENV_ID, **ENV_KWARGS)
    guide = make_guide(GuideSpec(kind="scripted", target=scripted_guide_target(), kwargs={"noise": 0.0}), env.unwrapped)
    try:
        episode = 0

        def run(n: int) -> None:
            nonlocal episode
            obs, _ = env.reset(seed=episode)
            guide.reset()
            for _ in range(n):
                obs, _, terminated, truncated, _ = env.step(guide.act(obs))
                if terminated or truncated:
                    episode += 1
                    obs, _ = env.reset(seed=episode)
                    guide.reset()

        run(settings.warmup)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        run(settings.graph_steps)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {"steps": settings.graph_steps, "wall_s": wall, "steps_per_s": settings.graph_steps / wall,
                "cpu_ms_per_step": cpu * 1e3 / settings.graph_steps}
    finally:
        env.close()


def run_bench(settings: Settings) -> dict[str, Any]:
    domain = random.Random(os.getpid()).randrange(150, 230)  # away from 0 and from the tests' 100..149
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="jsrl_bench_ros_") as tmp:
        work = Path(tmp)
        latency = {}
        for mode in LATENCY_MODES:
            (work / mode).mkdir()
            latency[mode] = measure_latency(mode, settings, domain, work / mode)
        (work / "graph").mkdir()
        graph = measure_graph(settings, domain, work / "graph")
    bare = measure_bare(settings)
    return {
        "latency": latency,
        "lockstep": {"graph": graph, "bare": bare, "graph_over_bare": graph["steps_per_s"] / bare["steps_per_s"]},
        "settings": {**asdict(settings), "env_id": GRASP_ENV_ID, "env_kwargs": ENV_KWARGS,
                     "guide": scripted_guide_target(),
                     "transport": "rclpy between processes (Fast DDS, localhost), EventsExecutor on both sides",
                     "latency_controller": {"state": "scripted guide (jsrl/guide_action joined)",
                                            "image": "scripted guide (jsrl/guide_action joined)",
                                            "state_explorer": {"qtopt": EXPLORER_CONFIG}},
                     "graph_nodes": ["sim_bridge", "policy_arbiter"]},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
                    "python": sys.version.split()[0]},
    }


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {out}")
    for flag in ("samples", "warmup", "graph_steps"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    result = run_bench(Settings(samples=args.samples, warmup=args.warmup, graph_steps=args.graph_steps))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    for mode, r in result["latency"].items():
        print(f"arbiter {mode:<14} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  ({r['samples']} samples)")
    lock = result["lockstep"]
    print(f"lockstep graph {lock['graph']['steps_per_s']:.1f} steps/s, bare env {lock['bare']['steps_per_s']:.1f} "
          f"steps/s: {lock['graph_over_bare']:.2f}x; load average {result['machine']['loadavg_after'][0]:.2f}")
    print(f"results: {out}")
    return 0
