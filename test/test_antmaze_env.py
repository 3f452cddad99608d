"""jsrl/AntMaze-v0: gymnasium API, seeding, the flat observation layout, success and config errors."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import jsrl_sim  # noqa: F401  (registers jsrl/AntMaze-v0)
from jsrl_sim.antmaze import MAZES, AntMazeConfigError
from jsrl_sim.antmaze.env import AntMazeEnv
from jsrl_sim.antmaze.maze import MazeLayout
from jsrl_sim.antmaze.observation import GOAL, OBS_DIM

ZERO = np.zeros(8, dtype=np.float32)


def make(**kwargs) -> gym.Env:
    return gym.make("jsrl/AntMaze-v0", **kwargs).unwrapped


def test_passes_gymnasium_env_checker():
    check_env(make(maze="umaze"), skip_render_check=True)


@pytest.mark.parametrize("maze,episode_steps", [("umaze", 700), ("medium", 1000), ("large", 1000)])
def test_flat_float32_observation_starts_and_ends_in_the_d4rl_cells(maze, episode_steps):
    env = make(maze=maze)
    obs, info = env.reset(seed=0)
    assert env.observation_space.shape == (OBS_DIM,) == obs.shape
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert env.action_space.shape == (8,)
    assert env.max_steps == episode_steps
    layout = MazeLayout(MAZES[maze].walls)
    assert layout.xy_to_cell(obs[:2]) == MAZES[maze].start
    assert layout.xy_to_cell(obs[GOAL]) == MAZES[maze].goal
    np.testing.assert_allclose(obs[GOAL], env.goal, atol=1e-6)
    assert info == {"success": False}


def test_first_29_entries_are_qpos_and_qvel():
    env = make(maze="umaze")
    env.reset(seed=1)
    obs, *_ = env.step(env.action_space.sample())
    np.testing.assert_allclose(obs[:29], np.concatenate([env.data.qpos, env.data.qvel]), rtol=1e-6, atol=1e-6)


def test_same_seed_same_episode_and_other_seed_other_start():
    env_a, env_b = make(maze="medium"), make(maze="medium")
    first_a, _ = env_a.reset(seed=7)
    first_b, _ = env_b.reset(seed=7)
    np.testing.assert_array_equal(first_a, first_b)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(20, 8)).astype(np.float32)
    for action in actions:
        obs_a, *_ = env_a.step(action)
        obs_b, *_ = env_b.step(action)
    np.testing.assert_array_equal(obs_a, obs_b)
    other, _ = env_a.reset(seed=8)
    assert not np.allclose(other[:2], first_a[:2])
    assert not np.allclose(other[GOAL], first_a[GOAL])


def test_ant_placed_on_the_goal_succeeds_and_terminates():
    env = make(maze="umaze")
    obs, _ = env.reset(seed=3)
    _, reward, terminated, truncated, info = env.step(ZERO)
    assert (reward, terminated, info["success"]) == (0.0, False, False)
    env.data.qpos[:2] = env.goal
    obs, reward, terminated, truncated, info = env.step(ZERO)
    assert np.linalg.norm(obs[:2] - obs[GOAL]) < 0.45
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)


def test_truncates_after_max_steps():
    env = make(maze="large", max_steps=5)
    env.reset(seed=0)
    flags = [env.step(ZERO)[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]


def test_reset_options_choose_other_cells():
    env = make(maze="medium")
    obs, _ = env.reset(seed=0, options={"reset_cell": np.array([4, 5]), "goal_cell": np.array([1, 6])})
    layout = MazeLayout(MAZES["medium"].walls)
    assert layout.xy_to_cell(obs[:2]) == (4, 5)
    assert layout.xy_to_cell(obs[GOAL]) == (1, 6)


@pytest.mark.parametrize(
    "kwargs,named",
    [
        ({"maze": "huge"}, "maze"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": -3}, "max_steps"),
        ({"max_steps": 2.5}, "max_steps"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": True}, "image_size"),
        ({"mazes": "umaze"}, "mazes"),
    ],
)
def test_bad_configuration_is_an_error_naming_the_key(kwargs, named):
    with pytest.raises(AntMazeConfigError, match=named):
        make(**kwargs)


def test_only_offscreen_rendering():
    # (gym.make would wrap "human" in HumanRendering and ask us for rgb_array instead)
    with pytest.raises(AntMazeConfigError, match="render_mode"):
        AntMazeEnv(render_mode="human")


def test_render_needs_rgb_array_mode():
    env = make(maze="umaze")
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="render_mode='rgb_array'"):
        env.render()


def test_top_down_camera_image():
    try:
        env = make(maze="umaze", render_mode="rgb_array", image_size=32)
    except RuntimeError as err:  # no offscreen OpenGL on this machine: the error must say what to do
        assert "MUJOCO_GL" in str(err)
        pytest.skip(f"offscreen rendering unavailable: {err}")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image.std() > 10  # walls, floor and goal marker, not a blank frame
    env.close()
