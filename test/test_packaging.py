"""The package installs the ROS 2 way: node executables in <prefix>/lib/jsrl_ros, launch and
config files in <prefix>/share/jsrl_ros, the ament index marker — for a pip-installed wheel
and for a colcon build alike."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "install", "log", "runs", "results",
                              "*.egg-info", "__pycache__", ".pytest_cache")
NODE = "curriculum_manager"


def _expected_files(prefix: Path) -> list[Path]:
    share = prefix / "share"
    files = [share / "ament_index/resource_index/packages/jsrl_ros", share / "jsrl_ros/package.xml"]
    files += [share / "jsrl_ros/launch" / p.name for p in (REPO / "launch").glob("*.launch.py")]
    files += [share / "jsrl_ros/config" / p.name for p in (REPO / "config").glob("*.yaml")]
    return files


def _assert_installed(prefix: Path) -> None:
    missing = [str(p) for p in _expected_files(prefix) if not p.is_file()]
    assert not missing, f"not installed: {missing}"
    exe = prefix / "lib/jsrl_ros" / NODE
    assert exe.is_file() and os.access(exe, os.X_OK), f"{exe} missing or not executable"


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy, so builds never write into the working tree."""
    dst = tmp_path_factory.mktemp("src") / "jsrl_ros"
    shutil.copytree(REPO, dst, ignore=SKIP)
    return dst


def test_pip_wheel_installs_nodes_in_lib_and_data_in_share(source_copy: Path, tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"),
                          str(source_copy)], check=True)
    wheel = next((tmp_path / "wheel").glob("jsrl_ros-*.whl"))
    prefix = tmp_path / "prefix"
    subprocess.run(pip + ["install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel)], check=True)
    _assert_installed(prefix)
    assert (prefix / "bin/jsrl").is_file(), "console script `jsrl` missing from bin/"


def test_colcon_build_installs_nodes_in_lib_and_data_in_share(source_copy: Path, tmp_path: Path) -> None:
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        pytest.fail(f"colcon not installed next to {sys.executable}; install requirements.txt")
    subprocess.run([str(colcon), "--log-base", str(tmp_path / "log"), "build",
                    "--base-paths", str(source_copy), "--build-base", str(tmp_path / "build"),
                    "--install-base", str(tmp_path / "install")],
                   check=True, cwd=tmp_path, capture_output=True, text=True)
    _assert_installed(tmp_path / "install/jsrl_ros")


def test_installed_venv_is_found_by_ament_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/setup_env.sh installs the package into the venv; ament lookups must find it there."""
    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    monkeypatch.setenv("AMENT_PREFIX_PATH", os.environ.get("AMENT_PREFIX_PATH", sys.prefix))
    if not (Path(sys.prefix) / "share/jsrl_ros/package.xml").is_file():
        pytest.skip("package not installed into this interpreter's prefix (run scripts/test.sh)")
    assert Path(get_package_share_directory("jsrl_ros")) == Path(sys.prefix) / "share/jsrl_ros"
    _assert_installed(Path(get_package_prefix("jsrl_ros")))


def test_installed_node_executable_runs_and_rejects_bad_parameters() -> None:
    exe = Path(sys.prefix) / "lib/jsrl_ros" / NODE
    if not exe.is_file():
        pytest.skip("package not installed into this interpreter's prefix (run scripts/test.sh)")
    result = subprocess.run([str(exe), "--ros-args", "-p", "h1:=-1.0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "h1" in result.stderr
