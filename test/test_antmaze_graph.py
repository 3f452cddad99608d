"""The antmaze_sim graph, started by the embedded bringup as real node processes.

Short episodes (``max_steps`` 6, the curriculum's H1 4): the first episode is guided for 4
steps by the scripted AntMaze guide running in the bridge, so its recorded actions must be
the guide's actions for the recorded observations; the learner trains IQL with AntMaze's
reward shift on the bags; ``--episodes`` stops the graph and every node exits 0.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ros_helpers import bringup_command

from jsrl_ros.recording.episode_bags import list_episode_bags, read_episode
from jsrl_sim.antmaze.guide import AntMazeGuide

REPO = Path(__file__).resolve().parents[1]
LIB = Path(sys.prefix) / "lib" / "jsrl_ros"
NODES = ("sim_bridge", "policy_arbiter", "recorder", "learner", "curriculum_manager")
MAX_STEPS, H1, EPISODES = 6, 4, 4


def scenario(tmp_path: Path) -> Path:
    """config/ros/antmaze_sim.yaml with short umaze episodes, a tiny IQL (shift kept) and a 4-step guide."""
    params = yaml.safe_load((REPO / "config" / "ros" / "antmaze_sim.yaml").read_text())
    params["/**"]["ros__parameters"].update(env_kwargs=f"{{maze: umaze, max_steps: {MAX_STEPS}}}",
                                            eval_every_episodes=2, eval_episodes=1)
    params["sim_bridge"]["ros__parameters"]["realtime"] = True  # 20 steps/s: the recorder keeps up
    params["learner"]["ros__parameters"].update(
        iql_config="{hidden: [8], reward_shift: -1.0, compile: false}", batch_size=2, checkpoint_every_updates=2,
        max_updates_per_step=1.0)
    params["curriculum_manager"]["ros__parameters"].update(h1=float(H1), n_stages=2, window=1)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.skipif(not (LIB / "jsrl_bringup").is_file(), reason="package not installed (run scripts/test.sh)")
def test_the_antmaze_graph_runs_headless_with_the_scripted_guide_and_iql(ros, tmp_path):
    out = tmp_path / "run"
    command, env = bringup_command(ros, "antmaze_sim", scenario(tmp_path), out, "--episodes", str(EPISODES),
                                   "--duration", "120")
    # the node launchers run `python -c`, which imports this working tree (conftest.py sets PYTHONPATH)
    run = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=180)
    output = run.stdout
    assert run.returncode == 0, output
    assert f"{EPISODES} episodes recorded" in output, output
    codes = dict(item.rsplit(" ", 1) for item in output.split("exit codes: ")[1].splitlines()[0].split(", "))
    assert codes == dict.fromkeys(NODES, "0"), output

    recorded = sorted((read_episode(b) for b in list_episode_bags(out / "episodes")), key=lambda r: r.meta.episode)
    assert len(recorded) >= EPISODES
    for r in recorded:
        assert r.meta.length == MAX_STEPS and not r.meta.success  # 0.3 s of walking never reaches the goal
        assert r.episode.obs.shape == (MAX_STEPS, 31) and r.episode.actions.shape == (MAX_STEPS, 8)
    first = recorded[0]  # under heavy load the recorder can still miss episode 0 (left in .partial/)
    assert first.meta.guide_step == H1
    assert first.meta.controller == ["guide"] * H1 + ["explorer"] * (MAX_STEPS - H1)
    guide = AntMazeGuide("umaze")
    guide.reset()
    expected = np.stack([guide.act(obs) for obs in first.episode.obs[:H1]])
    np.testing.assert_allclose(first.episode.actions[:H1], expected, atol=1e-5)

    config = yaml.safe_load((out / "checkpoints" / "config.yaml").read_text())
    assert config["learner"] == "iql" and config["learner_config"]["reward_shift"] == -1.0
