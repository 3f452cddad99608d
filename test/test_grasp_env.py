"""jsrl/Grasp-v0: gymnasium API, seeded determinism, success detection, randomisation, config errors."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import jsrl_sim
from jsrl_learning.rollout import run_episode
from jsrl_sim.grasping.camera import DEFAULT_POSE, Lighting
from jsrl_sim.grasping.config import GraspConfigError
from jsrl_sim.grasping.env import PROPRIO_DIM, ROBOT_DIM, SLOT_DIM, GraspEnv
from jsrl_sim.grasping.objects import has_finite_meshes, object_specs
from jsrl_sim.grasping.scene import DirectClient
from jsrl_sim.grasping.scripted_guide import ScriptedGraspGuide

HOLD = np.array([0.0, 0.0, 0.0, 0.0, -1.0], dtype=np.float32)  # keep still, gripper open


@pytest.fixture
def env():
    made = GraspEnv(object_set="shapes")
    yield made
    made.close()


def test_gymnasium_make_by_module_qualified_id_passes_config():
    env = gym.make(f"jsrl_sim:{jsrl_sim.GRASP_ENV_ID}", max_steps=17, task="instance")
    try:
        assert isinstance(env.unwrapped, GraspEnv)
        assert env.unwrapped.config.max_steps == 17 and env.unwrapped.config.task == "instance"
    finally:
        env.close()


@pytest.mark.parametrize("overrides", [{"obs_mode": "state"},
                                       {"obs_mode": "image", "image_size": 40, "task": "instance"}])
def test_passes_gymnasium_env_checker(overrides):
    env = gym.make(f"jsrl_sim:{jsrl_sim.GRASP_ENV_ID}", object_set="shapes", render_mode="rgb_array", **overrides)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def test_state_observation_marks_the_target_slot_only_in_the_instance_task():
    for task in ("indiscriminate", "instance"):
        env = GraspEnv(object_set="shapes", task=task, num_objects=3, sort_slots=False)
        obs, info = env.reset(seed=4)
        env.close()
        assert obs.shape == (ROBOT_DIM + 3 * SLOT_DIM,) and obs.dtype == np.float32
        flags = obs[ROBOT_DIM:].reshape(3, SLOT_DIM)[:, -1]
        expected = np.eye(3)[info["target"]] if task == "instance" else np.zeros(3)
        np.testing.assert_array_equal(flags, expected)
        assert (info["target"] >= 0) == (task == "instance")


def test_image_observation_gives_the_target_in_image_coordinates():
    env = GraspEnv(object_set="shapes", task="instance", obs_mode="image", image_size=48)
    obs, info = env.reset(seed=2)
    try:
        assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
        assert obs["proprio"].shape == (PROPRIO_DIM,)
        u, v, has_target = obs["proprio"][-3:]
        assert has_target == 1.0 and -1.0 < u < 1.0 and -1.0 < v < 1.0
        expected = env.camera.project(info["object_positions"][info["target"]][None, :].astype(float))[0]
        np.testing.assert_allclose([u, v], expected, atol=1e-5)
        assert obs["image"].std() > 10  # a rendered scene, not a blank frame
    finally:
        env.close()


@pytest.mark.parametrize("overrides", [{}, {"obs_mode": "image", "image_size": 40, "randomize_colors": True,
                                            "randomize_camera": True, "randomize_lighting": True,
                                            "randomize_dynamics": True}])
def test_same_seed_gives_identical_objects_observations_and_trajectories(overrides):
    a, b = GraspEnv(object_set="train", **overrides), GraspEnv(object_set="train", **overrides)
    try:
        b.reset(seed=99)  # b has a different history: its state must not leak into the next episode
        b.step(np.array([0.5, -0.5, -1.0, 0.5, -1.0], dtype=np.float32))
        b.step(np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32))  # close-and-lift
        obs_a, info_a = a.reset(seed=7)
        obs_b, info_b = b.reset(seed=7)
        np.testing.assert_array_equal(info_a["object_positions"], info_b["object_positions"])
        _assert_same_obs(obs_a, obs_b)
        rng = np.random.default_rng(0)
        for _ in range(4):  # the two clients are stepped interleaved: they must not interfere
            action = np.append(rng.uniform(-1, 1, size=4), -1.0).astype(np.float32)
            _assert_same_obs(a.step(action)[0], b.step(action)[0])
        _, info_other = a.reset(seed=8)
        assert not np.array_equal(info_other["object_positions"], info_a["object_positions"])
    finally:
        a.close()
        b.close()


def _assert_same_obs(x, y):
    if isinstance(x, dict):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    else:
        np.testing.assert_array_equal(x, y)


def test_object_lifted_above_threshold_gives_reward_and_terminates(env):
    env.reset(seed=0)
    _raise_object(env, 0)
    _, reward, terminated, truncated, info = env.step(HOLD)
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)


def test_instance_task_rewards_only_the_target_and_ends_on_a_wrong_lift():
    env = GraspEnv(object_set="shapes", task="instance", num_objects=3)
    try:
        _, info = env.reset(seed=1)
        _raise_object(env, (info["target"] + 1) % 3)
        _, reward, terminated, _, info = env.step(HOLD)
        assert (reward, terminated, info["success"]) == (0.0, True, False)
        _, info = env.reset(seed=1)
        _raise_object(env, info["target"])
        _, reward, terminated, _, info = env.step(HOLD)
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    finally:
        env.close()


def _raise_object(env: GraspEnv, slot: int) -> None:
    """Teleport an object well above the lift threshold (it falls ~5 cm during one step)."""
    scene = env.scene
    body = scene.objects[slot]
    pos, quat = scene.client.getBasePositionAndOrientation(body)
    scene.client.resetBasePositionAndOrientation(body, [pos[0], pos[1], scene.floor_z + 0.3], quat)


def test_closing_on_nothing_ends_the_episode_without_reward(env):
    env.reset(seed=3)
    _, reward, terminated, _, info = env.step(np.array([0, 0, 0, 0, 1], dtype=np.float32))
    assert (reward, terminated, info["success"], info["grasp_attempted"]) == (0.0, True, False, True)
    assert info["ee_position"][2] - env.scene.floor_z > 0.28  # the close-and-lift ran: up from 0.25 to ~0.3
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(HOLD)


def test_episode_truncates_after_max_steps():
    env = GraspEnv(object_set="shapes", max_steps=3)
    try:
        env.reset(seed=0)
        flags = [env.step(HOLD)[2:4] for _ in range(3)]
        assert flags == [(False, False), (False, False), (False, True)]
    finally:
        env.close()


def test_actions_move_the_gripper_in_the_commanded_direction(env):
    env.reset(seed=5)
    start = env.privileged_state()
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([1.0, -1.0, -1.0, 1.0, -1.0], dtype=np.float32))
    end = env.privileged_state()
    moved = end.ee_position - start.ee_position
    assert moved[0] > 0.08 and moved[1] < -0.08 and moved[2] < -0.08  # ~3 x 5 cm minus tracking lag
    assert end.ee_yaw > start.ee_yaw or end.ee_yaw > 1.5  # turned, or stopped at the +pi/2 limit


def test_malformed_action_is_rejected(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="5 finite numbers"):
        env.step(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="5 finite numbers"):
        env.step(np.array([np.nan, 0, 0, 0, -1], dtype=np.float32))


def test_randomisation_switches_change_the_scene():
    plain = GraspEnv(object_set="shapes")
    varied = GraspEnv(object_set="shapes", randomize_colors=True, randomize_camera=True,
                      randomize_lighting=True, randomize_dynamics=True)
    try:
        for env in (plain, varied):
            env.reset(seed=11)
        assert plain.camera.pose == DEFAULT_POSE and plain.lighting == Lighting()
        assert varied.camera.pose != DEFAULT_POSE and varied.lighting != Lighting()
        assert _object_colours(plain) != _object_colours(varied)
        assert _object_frictions(plain) != _object_frictions(varied)
    finally:
        plain.close()
        varied.close()


def _object_colours(env: GraspEnv) -> list:
    return [env.scene.client.getVisualShapeData(body)[0][7] for body in env.scene.objects]


def _object_frictions(env: GraspEnv) -> list:
    return [env.scene.client.getDynamicsInfo(body, -1)[1] for body in env.scene.objects]


def test_object_sets_hold_the_fixed_train_test_split():
    train, test = object_specs("train"), object_specs("test")
    assert (len(train), len(test), len(object_specs("shapes"))) == (899, 100, 5)  # random_urdfs/168 is broken
    assert not {s.urdf for s in train} & {s.urdf for s in test}
    assert all(s.urdf.endswith("0.urdf") for s in test) and not any(s.urdf.endswith("0.urdf") for s in train)


def test_every_random_object_loads_as_a_finite_object_of_a_few_centimetres():
    """random_urdfs/168's mesh is all NaN: pybullet built its hull from uninitialised memory, so
    its size, resting height and contacts changed from one env to the next and seeds did not reproduce."""
    client = DirectClient()
    try:
        for spec in object_specs("train") + object_specs("test"):
            body = client.loadURDF(spec.urdf, globalScaling=spec.scale)
            vertices = np.asarray(client.getMeshData(body)[1])
            assert np.all(np.isfinite(vertices)) and np.abs(vertices).max() < 0.2, spec.urdf
            client.removeBody(body)
    finally:
        client.disconnect()


def test_meshes_with_non_finite_vertices_are_recognised(tmp_path):
    (tmp_path / "good.obj").write_text("v 0 0 0\nv 1 0.5 -2e-3\nv 0 1 0\nf 1 2 3\n")
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv nan nan nan\nv 0 1 0\nf 1 2 3\n")
    for name in ("good", "bad"):
        (tmp_path / f"{name}.urdf").write_text(f'<robot><link><collision><geometry><mesh filename="{name}.obj"/>'
                                               f'</geometry></collision></link></robot>')
    assert has_finite_meshes(str(tmp_path / "good.urdf")) and not has_finite_meshes(str(tmp_path / "bad.urdf"))


def _guide_episodes(seeds: list[int]) -> list[np.ndarray]:
    env = GraspEnv(object_set="train")
    guide = ScriptedGraspGuide(env)
    try:
        return [np.array(run_episode(env, guide, guide.act, guide_steps=env.config.max_steps, seed=seed).obs)
                for seed in seeds]
    finally:
        env.close()


def test_a_seed_gives_the_same_guide_episodes_in_every_env_of_a_process():
    """The benches run many jobs per worker process: a seed's episodes must not depend on what ran before.
    Seeds 449, 453 and 686643339 drew random_urdfs/168 before it was left out (their first episodes differed
    between the first env of a process and later ones, now and then)."""
    seeds = [449, 453, 686643339]
    first = _guide_episodes(seeds)
    for _ in range(2):
        for seed, a, b in zip(seeds, first, _guide_episodes(seeds)):
            np.testing.assert_array_equal(a, b, err_msg=f"seed {seed}")


@pytest.mark.parametrize("key, value", [
    ("max_steps", 0), ("max_steps", -5), ("image_size", 0), ("image_size", -64), ("num_objects", 0),
    ("task", "pick_red"), ("object_set", "validation"), ("obs_mode", "depth"), ("lift_height", 0.0),
    ("randomize_camera", "yes"), ("max_step", 20),
])
def test_bad_configuration_raises_an_error_naming_the_key(key, value):
    with pytest.raises(GraspConfigError, match=rf"\b{key}\b"):
        GraspEnv(**{key: value})
    assert issubclass(GraspConfigError, ValueError)


def test_unknown_object_set_error_names_it():
    with pytest.raises(ValueError, match="'validation'"):
        object_specs("validation")


def test_a_non_finite_simulator_state_never_reaches_the_policy(env, monkeypatch):
    env.reset(seed=0)
    real = env.scene.object_poses

    def exploded():
        positions, quats = real()
        positions[1] = np.nan
        return positions, quats

    monkeypatch.setattr(env.scene, "object_poses", exploded)
    obs, _, terminated, truncated, info = env.step(HOLD)
    assert np.all(np.isfinite(obs)) and info["physics_error"] and truncated and not terminated
    assert env.physics_errors == 1
    with pytest.raises(RuntimeError, match="10 scenes in a row"):  # every new scene broken: say so, never loop
        env.reset(seed=1)
    monkeypatch.setattr(env.scene, "object_poses", real)
    obs, info = env.reset(seed=1)
    assert not info["physics_error"] and np.all(np.isfinite(obs))
