"""Weight broadcast time: a checkpoint written and announced on the learner's ``jsrl/checkpoint`` -> every
actor's ``weights_receiver`` has reassembled, verified and written it (its ``jsrl/checkpoint``
announcement). The broadcaster and the receivers run as the fleet runs them (one process each, a
private ROS domain on this host); the checkpoints are real learner-node checkpoints of QT-Opt's
critic for state and for 64 px image observations (untrained weights: the same bytes as trained ones),
a fresh one per broadcast (the broadcaster skips a file it has sent)."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from jsrl_bench.fleet.throughput import ros_env
from jsrl_bench.fleet.watch import FleetWatch
from jsrl_ros.contract import topics
from jsrl_ros.fleet.keys import LEARNER_KEY, LEARNER_PUBLIC_KEY

ANNOUNCE_TIMEOUT_S = 120.0


def write_critic_checkpoint(path: Path, scenario: Path, obs_mode: str, seed: int) -> int:
    """The learner node's checkpoint of QT-Opt for ``obs_mode`` with the scenario's env and qtopt_config;
    its size in bytes."""
    import gymnasium as gym
    import torch

    from jsrl_learning.checkpoint import save_checkpoint
    from jsrl_learning.guides.policy_checkpoint import policy_state
    from jsrl_learning.learners import make_learner
    from jsrl_ros.nodes.learner import CHECKPOINT_KIND
    from jsrl_ros.runtime.env_params import yaml_mapping

    shared = yaml.safe_load(scenario.read_text())["/**"]["ros__parameters"]
    config = yaml_mapping(yaml.safe_load(scenario.read_text())["learner"]["ros__parameters"]["qtopt_config"],
                          f"{scenario}: learner.qtopt_config")
    env = gym.make(shared["env_id"], **yaml_mapping(shared["env_kwargs"], f"{scenario}: env_kwargs"), obs_mode=obs_mode)
    spaces = (env.observation_space, env.action_space)
    env.close()
    torch.manual_seed(seed)
    learner = make_learner("qtopt", config, *spaces, f"{scenario}: learner.qtopt_config")
    save_checkpoint(path, {"kind": CHECKPOINT_KIND, "updates": seed, "env_steps": 0,
                           "policy": policy_state("qtopt", config, *spaces, learner)})
    return path.stat().st_size


def measure_broadcasts(scenario: Path, obs_modes: tuple[str, ...], broadcasts: int, receivers: int, domain: int,
                       work: Path, keys: Path) -> dict[str, Any]:
    """Per obs mode: ``broadcasts`` checkpoints, each timed until every one of ``receivers`` actors has it."""
    from std_msgs.msg import String

    from jsrl_ros.bringup.processes import ProcessGroup
    from jsrl_ros.contract.qos import LATCHED

    ids = list(range(1, receivers + 1))
    announcements = [f"/actor_{a}/jsrl/checkpoint" for a in ids]
    env = ros_env(domain)
    work.mkdir(parents=True, exist_ok=True)
    watch = FleetWatch(domain, [], announcements)
    announce = watch.publisher(String, "/jsrl/checkpoint", LATCHED)
    group = ProcessGroup((10.0, 5.0, 5.0))
    results: dict[str, Any] = {}
    try:
        group.start("weights_broadcaster", [sys.executable, "-m", "jsrl_ros.nodes.weights_broadcaster", "--ros-args",
                                            "-p", f"key_file:={keys / LEARNER_KEY}"],
                    log_path=work / "weights_broadcaster.log", env=env)
        for a in ids:
            group.start(f"weights_receiver_{a}", [
                sys.executable, "-m", "jsrl_ros.nodes.weights_receiver", "--ros-args", "-r", f"__ns:=/actor_{a}",
                "-p", f"checkpoint_path:={work / f'actor_{a}' / 'explorer.pt'}",
                "-p", f"learner_public_key_file:={keys / LEARNER_PUBLIC_KEY}"], log_path=work / f"weights_receiver_{a}.log", env=env)

        def check() -> None:
            for name, code in group.exited().items():
                tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bench fleet: {name} exited with code {code}:\n{tail}")

        def subscribed() -> bool:  # the broadcaster listens, every receiver listens and announces
            return (watch.node.count_subscribers("/jsrl/checkpoint") >= 1
                    and watch.node.count_subscribers(topics.FLEET_WEIGHTS) >= receivers
                    and all(watch.node.count_publishers(t) >= 1 for t in announcements))

        if not watch.spin_until(subscribed, ANNOUNCE_TIMEOUT_S, check):
            raise RuntimeError(f"bench fleet: weights nodes not up after {ANNOUNCE_TIMEOUT_S:g} s (logs in {work})")
        watch.spin_for(2.0, check)  # let discovery settle both ways
        serial = 0
        for mode in obs_modes:
            times, size = [], 0
            for _ in range(broadcasts):
                serial += 1
                size = write_critic_checkpoint(work / "learner" / f"{mode}.pt", scenario, mode, serial)
                before = {t: len(watch.announced[t]) for t in announcements}
                start = time.monotonic()
                announce.publish(String(data=str(work / "learner" / f"{mode}.pt")))
                if not watch.spin_until(lambda: all(len(watch.announced[t]) > before[t] for t in announcements),
                                        ANNOUNCE_TIMEOUT_S, check):
                    raise RuntimeError(f"bench fleet: a {mode} checkpoint did not reach every actor in "
                                       f"{ANNOUNCE_TIMEOUT_S:g} s (logs in {work})")
                times.append(max(watch.announced[t][before[t]] for t in announcements) - start)
            results[mode] = {"checkpoint_bytes": size, "broadcasts": broadcasts, "receivers": receivers,
                             "median_s": statistics.median(times), "max_s": max(times), "times_s": times}
    finally:
        group.stop()
        watch.close()
    return results
