"""The scripted grasp guide: it lifts objects on easy and held-out sets, clearly beats random."""
from __future__ import annotations

import gymnasium as gym
import pytest

import jsrl_sim
from jsrl_learning.guides.base import Guide
from jsrl_sim.grasping.env import GraspEnv
from jsrl_sim.grasping.eval_guide import evaluate
from jsrl_sim.grasping.scripted_guide import ScriptedGraspGuide, make_grasp_guide


@pytest.mark.parametrize("task", ["indiscriminate", "instance"])
def test_guide_lifts_simple_shapes_and_env_reports_success(task):
    env = GraspEnv(object_set="shapes", task=task)
    guide = ScriptedGraspGuide(env)
    try:
        successes = 0
        for seed in range(6):
            obs, _ = env.reset(seed=seed)
            guide.reset()
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(guide.act(obs))
                done = terminated or truncated
            assert info["success"] == (reward == 1.0)
            if info["success"]:
                successes += 1
                assert terminated and info["grasp_attempted"]
                lifted = info["object_positions"][:, 2] - env.scene.floor_z > env.config.lift_height
                if task == "instance":
                    assert lifted[info["target"]]
        assert successes >= 5
    finally:
        env.close()


def test_guide_clearly_beats_random_on_held_out_objects():
    env = GraspEnv(object_set="test", task="instance")
    try:
        scripted = evaluate(env, "scripted", episodes=12, seed=500)
        random = evaluate(env, "random", episodes=12, seed=500)
    finally:
        env.close()
    assert scripted["successes"] >= 9
    assert random["successes"] <= 1
    assert 2 <= scripted["mean_steps_to_success"] <= env.config.max_steps


def test_action_noise_makes_the_guide_worse():
    env = GraspEnv(object_set="shapes")
    try:
        clean = evaluate(env, "scripted", episodes=8, seed=40)
        noisy = evaluate(env, "scripted", episodes=8, seed=40, noise=1.0)
    finally:
        env.close()
    assert clean["successes"] >= 7 and noisy["successes"] < clean["successes"]


def test_factory_unwraps_gymnasium_wrappers_and_gives_a_guide():
    env = gym.make(f"jsrl_sim:{jsrl_sim.GRASP_ENV_ID}", object_set="shapes")
    try:
        guide = make_grasp_guide(env, noise=0.1, seed=3)
        assert isinstance(guide, Guide) and guide.env is env.unwrapped
        obs, _ = env.reset(seed=0)
        guide.reset()
        action = guide.act(obs)
        assert env.action_space.contains(action)
    finally:
        env.close()


def test_factory_rejects_other_envs_and_negative_noise():
    with pytest.raises(TypeError, match="GraspEnv"):
        make_grasp_guide(gym.make("CartPole-v1"))
    env = GraspEnv(object_set="shapes")
    try:
        with pytest.raises(ValueError, match="noise"):
            ScriptedGraspGuide(env, noise=-0.1)
    finally:
        env.close()
