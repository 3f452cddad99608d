"""A ROS 2 distro user's dependencies: `rosdep install` resolves every key in package.xml (a key it
does not know fails the whole install), everything else is in requirements-distro.txt, and the
README's commands name that file and an environment where its install is visible to the nodes.

The keys are checked against the vendored ros/rosdistro snapshot (scripts/check_rosdep_keys.py);
the pip step is resolved by pip for real, on the Pythons of Jazzy and Humble.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from distro_pythons import HUMBLE_PYTHON, JAZZY_PYTHON, find_python, python_version

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import check_rosdep_keys as rosdep_check  # noqa: E402

SNAPSHOT = yaml.safe_load(rosdep_check.SNAPSHOT.read_text())
KEYS = rosdep_check.package_keys(REPO / "package.xml")
DISTRO_REQUIREMENTS = REPO / "requirements-distro.txt"


def test_every_package_xml_key_resolves_on_every_active_distro() -> None:
    assert rosdep_check.check_keys(KEYS, SNAPSHOT) == []
    assert set(SNAPSHOT["platforms"]) >= {"humble", "jazzy", "kilted"}


def test_every_requirement_is_a_rosdep_key_or_in_requirements_distro() -> None:
    problems = rosdep_check.check_requirements(
        rosdep_check.read_requirements(REPO / "requirements.txt"),
        rosdep_check.read_requirements(DISTRO_REQUIREMENTS), KEYS, SNAPSHOT)
    assert problems == []


def test_script_exits_0_and_names_ros_packages_and_installers() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts/check_rosdep_keys.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^rclpy +ROS package \(humble", result.stdout, re.M)
    assert re.search(r"^python3-numpy +apt: python3-numpy", result.stdout, re.M)
    assert re.search(r"^python3-gymnasium-pip +pip: gymnasium", result.stdout, re.M)


def test_keys_rosdep_does_not_know_are_reported(tmp_path: Path) -> None:
    """The keys package.xml had before: two of them exist nowhere, which failed `rosdep install`."""
    xml = tmp_path / "package.xml"
    xml.write_text("<package format='3'><name>x</name><exec_depend>rclpy</exec_depend>"
                   "<exec_depend>python3-minari-pip</exec_depend><depend>tensorboard</depend>"
                   "<test_depend>python3-unvendored</test_depend></package>")
    snapshot = {**SNAPSHOT, "absent": ["python3-minari-pip", "tensorboard"]}
    problems = rosdep_check.check_keys(rosdep_check.package_keys(xml), snapshot)
    assert [p.split(":")[0] for p in problems] == ["python3-minari-pip", "tensorboard", "python3-unvendored"]
    assert "`rosdep install` fails" in problems[0] and "--refresh" in problems[2]


@pytest.mark.parametrize("rule, codename, expected", [
    ({"ubuntu": ["python3-numpy"]}, "jammy", ("apt", ["python3-numpy"])),
    ({"ubuntu": {"*": ["python3-torch"], "focal": None}}, "noble", ("apt", ["python3-torch"])),
    ({"ubuntu": {"*": ["python3-torch"], "focal": None}}, "focal", None),
    ({"ubuntu": {"pip": {"packages": ["mujoco"]}}}, "noble", ("pip", ["mujoco"])),
    ({"ubuntu": {"*": {"pip": {"packages": ["gymnasium"]}}}}, "jammy", ("pip", ["gymnasium"])),
    ({"*": {"pip": {"packages": ["tensorboard"]}}}, "resolute", ("pip", ["tensorboard"])),
    ({"ubuntu": {"noble": ["x"]}}, "jammy", None),
    ({"debian": ["x"]}, "jammy", None),
])
def test_resolve_follows_rosdeps_precedence(rule: dict, codename: str, expected: tuple | None) -> None:
    assert rosdep_check.resolve(rule, "ubuntu", codename) == expected


def test_refresh_reads_active_distros_released_packages_and_expands_aliases(tmp_path: Path) -> None:
    """--refresh on a miniature rosdistro work tree: only active ROS 2 distros, only released
    packages, the first rule file wins, and a YAML alias is written out in full."""
    files = {
        "index-v4.yaml": {"distributions": {
            "humble": {"distribution": ["humble/distribution.yaml"], "distribution_status": "active",
                       "distribution_type": "ros2"},
            "iron": {"distribution": ["iron/distribution.yaml"], "distribution_status": "end-of-life",
                     "distribution_type": "ros2"}}},
        "humble/distribution.yaml": {"release_platforms": {"ubuntu": ["jammy"]}, "repositories": {
            "rclpy": {"release": {"version": "3.3.0-1", "packages": ["rclpy"]}},
            "launch": {"release": {"version": "1.0.0-1"}},
            "unreleased": {"release": {"packages": ["ghost"]}}}},
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(yaml.safe_dump(data))
    (tmp_path / "rosdep").mkdir()
    (tmp_path / "rosdep/base.yaml").write_text("python3-numpy:\n  ubuntu: [from-base]\n")
    (tmp_path / "rosdep/python.yaml").write_text(
        "python-foo-pip: &migrate\n  ubuntu:\n    pip:\n      packages: [foo]\n"
        "python3-foo-pip: *migrate\npython3-numpy:\n  ubuntu: [from-python]\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x", "--allow-empty"],
                   cwd=tmp_path, check=True)

    keys = ["rclpy", "launch", "ghost", "python3-numpy", "python3-foo-pip", "nowhere"]
    snapshot = rosdep_check.refresh(rosdep_check.Rosdistro(tmp_path), keys)
    assert snapshot["platforms"] == {"humble": ["jammy"]}
    assert snapshot["ros_packages"] == {"rclpy": ["humble"], "launch": ["humble"]}
    assert snapshot["rules"]["python3-numpy"] == {"file": "rosdep/base.yaml", "rule": {"ubuntu": ["from-base"]}}
    assert snapshot["absent"] == ["ghost", "nowhere"]
    out = tmp_path / "snapshot.yaml"
    rosdep_check.write_snapshot(snapshot, out)
    assert "&id" not in out.read_text()
    foo = yaml.safe_load(out.read_text())["rules"]["python3-foo-pip"]
    assert foo == {"file": "rosdep/python.yaml", "rule": {"ubuntu": {"pip": {"packages": ["foo"]}}}}


def _distro_commands() -> list[str]:
    """The shell lines of the README's "With a ROS 2 distro" code block."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## With a ROS 2 distro", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_installs_requirements_distro_into_a_venv_that_builds_the_package() -> None:
    """The workspace is ~/ros2_ws with this repo as src/jsrl_ros; the pip step must land where the
    nodes run: a venv that also sees the distro's packages, whose Python runs colcon."""
    commands = _distro_commands()
    rosdep = next(c for c in commands if c.startswith("rosdep install"))
    assert {"--from-paths", "src", "--ignore-src", "-y"} <= set(shlex.split(rosdep))
    venv = next(c for c in commands if c.startswith("python3 -m venv"))
    assert "--system-site-packages" in shlex.split(venv)
    pip = next(c for c in commands if c.startswith("pip install -r "))
    path = shlex.split(pip)[3]
    assert path.startswith("src/jsrl_ros/") and (REPO / path.removeprefix("src/jsrl_ros/")) == DISTRO_REQUIREMENTS
    assert commands.index(pip) > commands.index(venv)
    build = next(c for c in commands if "colcon build" in c)
    assert build.startswith("python -m colcon build"), "colcon must run with the venv's Python"
    readme = (REPO / "README.md").read_text()
    for name in rosdep_check.read_requirements(DISTRO_REQUIREMENTS):
        assert name in readme, f"README does not say why {name} is installed with pip"


def _pip_dry_run(python: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`pip install --dry-run -r requirements-distro.txt` into a venv of ``python`` with
    --system-site-packages (this interpreter's pip drives it: --python saves installing pip)."""
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
                           "--disable-pip-version-check", "--dry-run", "-r", str(DISTRO_REQUIREMENTS)],
                          capture_output=True, text=True, timeout=300)


def test_requirements_distro_resolves_on_jazzys_python(tmp_path: Path) -> None:
    """Every pin has a build for Python 3.12 and they resolve together (nothing is installed)."""
    python = find_python(JAZZY_PYTHON)
    result = _pip_dry_run(python, tmp_path)
    assert result.returncode == 0, result.stderr
    would_install = result.stdout.rsplit("Would install ", 1)[-1]
    for line in DISTRO_REQUIREMENTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = re.sub(r"\[.*\]", "", line).split("==")
            assert f"{name}-{version}" in would_install, f"{line} on Python {python_version(python)}:\n{result.stdout}"


def test_requirements_distro_needs_python_3_11_which_humble_lacks(tmp_path: Path) -> None:
    """What the README says of Humble: minari 0.5.4 requires Python >= 3.11."""
    python = find_python(HUMBLE_PYTHON)
    if python_version(python) != HUMBLE_PYTHON:
        pytest.skip(f"no Python {HUMBLE_PYTHON} here")
    result = _pip_dry_run(python, tmp_path)
    assert result.returncode != 0
    assert "minari" in result.stderr and "Requires-Python >=3.11" in result.stderr, result.stderr
