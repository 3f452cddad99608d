"""The package installs the ROS 2 way: node executables in <prefix>/lib/jsrl_ros, launch and
config files in <prefix>/share/jsrl_ros, the ament index marker — for a pip-installed wheel
and for a colcon build alike.

colcon builds run with the setuptools that ROS 2 distros ship (Humble 59.6.0 on Python 3.10,
Jazzy 68.1.2 on Python 3.12), the newest setuptools release and the project's venv, each
plain and with ``--symlink-install``: the project's venv alone once hid that setup.py
imported a module that only setuptools >= 70.1 has. The old-setuptools venvs are cached
(see ``_colcon_venv``), so a re-run costs only the builds.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from distro_pythons import HUMBLE_PYTHON, JAZZY_PYTHON, find_python, python_version

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "install", "log", "runs", "results",
                              "*.egg-info", "__pycache__", ".pytest_cache")
NODE = "curriculum_manager"
OUR_PACKAGES = ("jsrl_ros", "jsrl_learning", "jsrl_bench", "jsrl_sim")
# What the scratch venvs get besides setuptools; pinned so that a colcon release cannot change
# what a passing run means (these are the versions the project's venv was tested with).
COLCON = ("colcon-core==0.21.3", "colcon-ros==0.5.0")
CACHE = Path(os.environ.get("JSRL_PACKAGING_CACHE",
                            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jsrl_ros/colcon-venvs"))
# Variables of the project's environment that must not leak into a build or into a sourced workspace.
SCRUBBED = ("PYTHONPATH", "AMENT_PREFIX_PATH", "COLCON_PREFIX_PATH", "CMAKE_PREFIX_PATH", "VIRTUAL_ENV",
            "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")


@dataclass(frozen=True)
class Setuptools:
    """One setuptools a colcon user may build with, and the Python it comes with."""
    name: str
    version: str
    python: str | None  # "3.10"; None: this interpreter


DISTROS = (
    Setuptools("humble", "59.6.0", HUMBLE_PYTHON),   # Ubuntu 22.04's python3-setuptools
    Setuptools("jazzy", "68.1.2", JAZZY_PYTHON),     # Ubuntu 24.04's python3-setuptools
    Setuptools("newest", "84.2.1", None),            # newest release at the time of writing (colcon-core asks < 80)
)
MODES = ((), ("--symlink-install",))
# Resolved at collection so that each test's id names the Python it really ran with.
BASES = {d: find_python(d.python) for d in DISTROS}


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Runs ``cmd``; on failure the assertion shows its output (pip and colcon are verbose)."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def _colcon_venv(setuptools: Setuptools) -> Path:
    """A cached venv with colcon and exactly ``setuptools.version``; its Python.

    Created once per (Python, setuptools, colcon) under CACHE and reused while it still
    reports those versions; a file lock keeps concurrent test runs from building it twice.
    """
    base = BASES[setuptools]
    key = f"py{python_version(base)}-setuptools{setuptools.version}-" + "-".join(COLCON).replace("==", "")
    venv = CACHE / key
    python = venv / "bin/python"
    check = ("import setuptools, colcon_core, colcon_ros; "
             "print(setuptools.__version__, colcon_core.__version__, colcon_ros.__version__)")
    expected = " ".join([setuptools.version] + [c.split("==")[1] for c in COLCON])
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        probe = subprocess.run([str(python), "-c", check], capture_output=True, text=True) if python.exists() else None
        if probe is None or probe.stdout.strip() != expected:
            shutil.rmtree(venv, ignore_errors=True)
            # No pip inside: this interpreter's pip installs into it (--python), which saves a pip install.
            _run([base, "-m", "venv", "--without-pip", str(venv)], env=_clean_env())
            pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--disable-pip-version-check"]
            _run(pip + list(COLCON), env=_clean_env())
            # Second step: colcon-core's metadata asks setuptools < 80, the newest release is past that.
            _run(pip + [f"setuptools=={setuptools.version}"], env=_clean_env())
            assert _run([str(python), "-c", check]).stdout.strip() == expected
    return python


def _expected_files(prefix: Path) -> list[Path]:
    share = prefix / "share"
    files = [share / "ament_index/resource_index/packages/jsrl_ros", share / "jsrl_ros/package.xml"]
    files += [share / "jsrl_ros/launch" / p.name for p in (REPO / "launch").glob("*.launch.py")]
    files += [share / "jsrl_ros" / p.relative_to(REPO) for p in (REPO / "config").glob("*/*.yaml")]
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


def _colcon_build(python: Path, source: Path, ws: Path, mode: tuple[str, ...]) -> Path:
    """``colcon build`` of ``source`` run by ``python`` (so with its setuptools); the install prefix."""
    _run([str(python), "-m", "colcon", "--log-base", str(ws / "log"), "build", "--base-paths", str(source),
          "--build-base", str(ws / "build"), "--install-base", str(ws / "install"), *mode],
         cwd=ws, env=_clean_env(COLCON_HOME=str(ws / "colcon_home")))
    return ws / "install"


def _in_workspace(install: Path, cmd: list[str], python: Path, underlay: str = "") -> subprocess.CompletedProcess:
    """``cmd`` after ``. install/setup.sh``, as a user's shell runs it, with ``python`` first on PATH,
    in the workspace (not the working tree, which ``python -c`` would put first on sys.path).

    ``underlay``: the ROS installation sourced before the workspace (a distro's /opt/ros/<distro>).
    """
    env = _clean_env(PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}", AMENT_PREFIX_PATH=underlay)
    return subprocess.run(["sh", "-c", '. "$0" && exec "$@"', str(install / "setup.sh"), *cmd],
                          capture_output=True, text=True, env=env, cwd=install.parent, timeout=120)


def _assert_workspace_imports_from(install: Path, python: Path, root: Path) -> Path:
    """The sourced workspace imports our packages from ``root`` (not from some other install);
    the folder of the ``jsrl_ros`` package it imports."""
    code = "import importlib.util as u; print('\\n'.join(u.find_spec(m).origin for m in %r))" % (OUR_PACKAGES,)
    result = _in_workspace(install, [str(python), "-c", code], python)
    assert result.returncode == 0, result.stderr
    for package, origin in zip(OUR_PACKAGES, result.stdout.split()):
        assert Path(origin).is_relative_to(root), f"{package} imported from {origin}, not under {root}"
    return Path(result.stdout.split()[0]).parent


def _assert_symlinked(install: Path, source: Path) -> None:
    """--symlink-install: launch files point into the source, so edits need no rebuild."""
    launch = next((install / "jsrl_ros/share/jsrl_ros/launch").glob("*.launch.py"))
    assert launch.is_symlink() and launch.resolve().is_relative_to(source), f"{launch} is not a link into {source}"


@pytest.mark.parametrize("mode", MODES, ids=["install", "symlink"])
@pytest.mark.parametrize("setuptools", DISTROS,
                         ids=[f"{d.name}-setuptools{d.version}-py{python_version(BASES[d])}" for d in DISTROS])
def test_colcon_build_with_distro_setuptools(setuptools: Setuptools, mode: tuple[str, ...], source_copy: Path,
                                             tmp_path: Path) -> None:
    """A clean copy builds; the node launcher reaches the node module through the installed metadata.

    These venvs have no ROS, so the launcher must stop at the node's first ROS import: a
    ModuleNotFoundError for a module that is not ours, raised from the installed node module.
    """
    python = _colcon_venv(setuptools)
    install = _colcon_build(python, source_copy, tmp_path, mode)
    prefix = install / "jsrl_ros"
    _assert_installed(prefix)
    # From setuptools 80, `develop` has no --editable and colcon falls back to a full install.
    symlinked = bool(mode) and int(setuptools.version.split(".")[0]) < 80
    # full install: a copy under the install prefix; symlinked: build/ holds links to the source packages
    package = _assert_workspace_imports_from(install, python, tmp_path / "build/jsrl_ros" if symlinked else prefix)
    if symlinked:
        _assert_symlinked(install, source_copy)

    result = _in_workspace(install, [str(prefix / "lib/jsrl_ros" / NODE)], python)
    assert "ModuleNotFoundError" in result.stderr, result.stderr
    missing = result.stderr.rsplit("No module named ", 1)[-1].strip().strip("'").split(".")[0]
    assert missing not in OUR_PACKAGES, result.stderr
    node_file = str(package / "nodes" / f"{NODE}.py")
    assert f'File "{node_file}"' in result.stderr, f"{node_file} not reached:\n{result.stderr}"


@pytest.mark.parametrize("mode", MODES, ids=["install", "symlink"])
def test_colcon_build_in_project_venv_runs_node(mode: tuple[str, ...], source_copy: Path, tmp_path: Path) -> None:
    """With the project's venv (ROS from PyPI), the colcon-built node runs and rejects a bad parameter."""
    python = Path(sys.executable).with_name("python")
    if not Path(sys.executable).with_name("colcon").exists():
        pytest.fail(f"colcon not installed next to {sys.executable}; install requirements.txt")
    install = _colcon_build(python, source_copy, tmp_path, mode)
    prefix = install / "jsrl_ros"
    _assert_installed(prefix)
    _assert_workspace_imports_from(install, python, tmp_path / "build/jsrl_ros" if mode else prefix)
    if mode:
        _assert_symlinked(install, source_copy)
    result = _in_workspace(install, [str(prefix / "lib/jsrl_ros" / NODE), "--ros-args", "-p", "h1:=-1.0"], python,
                           underlay=sys.prefix)
    assert result.returncode == 2, result.stderr
    assert "h1" in result.stderr


def test_pip_wheel_installs_nodes_in_lib_and_data_in_share(source_copy: Path, tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"),
                          str(source_copy)], check=True)
    wheel = next((tmp_path / "wheel").glob("jsrl_ros-*.whl"))
    prefix = tmp_path / "prefix"
    subprocess.run(pip + ["install", "--no-deps", "--ignore-installed", "--prefix", str(prefix), str(wheel)],
                   check=True)
    _assert_installed(prefix)
    assert (prefix / "bin/jsrl").is_file(), "console script `jsrl` missing from bin/"


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
