"""Atomic, safely loadable checkpoints."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from jsrl_learning import checkpoint
from jsrl_learning.checkpoint import (
    CheckpointError, load_checkpoint, save_checkpoint, space_from_state, space_to_state,
)

REPO = Path(__file__).resolve().parents[1]


def test_round_trip_keeps_arrays_tensors_numbers_and_rng_states(tmp_path):
    rng = np.random.default_rng(7)
    state = {
        "array": np.arange(6, dtype=np.uint8).reshape(2, 3), "flags": np.array([True, False]),
        "tensor": torch.tensor([1.5, 2.5]), "scalar": np.float32(0.25), "nested": [{"x": (1, "a")}, None],
        "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
    }
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["array"].dtype == np.uint8 and loaded["array"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert loaded["flags"].tolist() == [True, False]
    assert torch.equal(loaded["tensor"], state["tensor"])
    assert loaded["scalar"] == 0.25 and loaded["nested"] == [{"x": (1, "a")}, None]
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng"]
    assert restored.random() == rng.random()
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])


def test_config_yaml_is_written_beside_the_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "run" / "checkpoint.pt", {"a": 1}, {"env_id": "X-v0", "seed": 3})
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == {"env_id": "X-v0", "seed": 3}


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"weights": torch.zeros(1000)})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match=r"c.pt: truncated or corrupt checkpoint"):
        load_checkpoint(path)


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt: truncated or corrupt"):
        load_checkpoint(path)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="list.pt: not a checkpoint"):
        load_checkpoint(tmp_path / "list.pt")


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    torch.save({"evil": Path("/")}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="c.pt"):
        load_checkpoint(tmp_path / "c.pt")


def test_object_arrays_are_refused_with_their_key(tmp_path):
    with pytest.raises(TypeError, match=r"state.bad"):
        save_checkpoint(tmp_path / "c.pt", {"bad": np.array([object()])})


def test_a_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"version": 1})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", disk_full)
    with pytest.raises(OSError):
        save_checkpoint(path, {"version": 2})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_a_process_killed_mid_write_leaves_the_previous_checkpoint_readable(tmp_path):
    path = tmp_path / "c.pt"
    child = textwrap.dedent(f"""
        import os, signal, numpy as np
        from jsrl_learning import checkpoint
        checkpoint.save_checkpoint({str(path)!r}, {{"version": 1}}, {{"run": 1}})
        # Die with SIGKILL once the new data is written but before it replaces the old file.
        checkpoint.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        checkpoint.save_checkpoint({str(path)!r}, {{"version": 2, "big": np.ones(10**6)}})
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".c.pt.")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 8 * 10**6  # killed with the new data written
    assert load_checkpoint(path) == {"version": 1}


def test_checkpoints_are_readable_by_other_users(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"a": 1})
    assert os.stat(tmp_path / "c.pt").st_mode & 0o044 == 0o044


@pytest.mark.parametrize("space", [
    gym.spaces.Discrete(5, start=2),
    gym.spaces.Box(np.zeros(3, np.float32), np.ones(3, np.float32)),
    gym.spaces.Box(0, 255, (4, 4, 3), np.uint8),
    gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (4, 4, 3), np.uint8),
                     "proprio": gym.spaces.Box(-1.0, 1.0, (7,), np.float32)}),
])
def test_spaces_survive_a_checkpoint(tmp_path, space):
    save_checkpoint(tmp_path / "c.pt", {"space": space_to_state(space)})
    assert space_from_state(load_checkpoint(tmp_path / "c.pt")["space"]) == space


def test_unsupported_space_is_refused():
    with pytest.raises(TypeError, match="Box, Discrete and Dict"):
        space_to_state(gym.spaces.MultiBinary(3))
