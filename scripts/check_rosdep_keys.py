#!/usr/bin/env python3
"""Checks that `rosdep install` can resolve every dependency key in package.xml, on the Ubuntu
release of every active ROS 2 distro, and that every requirement of the project is either such
a key or installed by pip from requirements-distro.txt.

A key rosdep does not know makes `rosdep install --from-paths src` fail for the whole
workspace. rosdep resolves a key either as a ROS package released in the distro (the distro's
distribution.yaml) or by a rule in ros/rosdistro's rosdep/base.yaml or rosdep/python.yaml.
What this package needs of those files is vendored in test/data/rosdep/snapshot.yaml, with the
commit it came from, so the check runs offline (CI reaches package registries only):

  python3 scripts/check_rosdep_keys.py                      # check against the snapshot
  python3 scripts/check_rosdep_keys.py --refresh ROSDISTRO  # rewrite the snapshot from a clone
                                                            # (work tree or bare) of ros/rosdistro
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "test/data/rosdep/snapshot.yaml"
RULE_FILES = ("rosdep/base.yaml", "rosdep/python.yaml")  # rosdep's order: the first definition wins
DEPEND_TAGS = ("depend", "build_depend", "build_export_depend", "buildtool_depend", "buildtool_export_depend",
               "exec_depend", "test_depend", "doc_depend")
# rosdep's installers for Ubuntu (rosdep2/platforms/debian.py); apt is the default.
UBUNTU_INSTALLERS = ("apt", "pip", "gem", "npm", "source")

# requirements.txt entries (PyPI names) the package needs at run or test time -> their rosdep
# key in package.xml; None: rosdep has no key, requirements-distro.txt installs it with pip.
REQUIREMENT_KEYS: dict[str, str | None] = {
    "torch": "python3-torch",
    "numpy": "python3-numpy",
    "pyyaml": "python3-yaml",
    "gymnasium": "python3-gymnasium-pip",
    "minari": None,
    "tqdm": "python3-tqdm",
    "matplotlib": "python3-matplotlib",
    "tensorboard": "python3-tensorboard-pip",
    "rosbags": "python3-rosbags-pip",
    "pybullet": "python3-pybullet-pip",
    "mujoco": "python3-mujoco-pip",
    "gymnasium-robotics": "python3-gymnasium-robotics-pip",
    "opencv-python-headless": "python3-opencv",  # the distro's OpenCV: same cv2 API
    "rerun-sdk": None,
    "pytest": "python3-pytest",
    "hypothesis": "python3-hypothesis",  # the fuzz harness: tests and `jsrl bench fuzz` only
    "cryptography": "python3-cryptography",  # the fleet's Ed25519 weight signatures
}
# requirements.txt entries that a distro user does not install: build tools, and the middleware
# of the venv's PyPI ROS (every distro installs its default one). Other `ros-<name>` entries are
# the PyPI builds of ROS package <name>, which package.xml must name.
NOT_DEPENDENCIES = {"colcon-core", "colcon-ros", "setuptools", "ros-rmw-fastrtps-cpp"}


def package_keys(package_xml: Path) -> list[str]:
    """Every dependency key of package.xml, in file order, once."""
    root = ET.parse(package_xml).getroot()
    return list(dict.fromkeys(el.text.strip() for el in root if el.tag in DEPEND_TAGS and el.text))


def resolve(rule: Any, os_name: str, codename: str) -> tuple[str, Any] | None:
    """(installer, packages) that rosdep takes from ``rule`` on ``os_name`` ``codename``; None
    where it raises ResolutionError. Follows rosdep2.lookup.RosdepDefinition.get_rule_for_platform
    (REP 111): OS or '*', then an installer key, else a codename or '*', then an installer key."""
    if not isinstance(rule, dict):
        return None
    data = rule.get(os_name, rule.get("*"))
    installer = UBUNTU_INSTALLERS[0]
    if isinstance(data, dict):
        found = next((k for k in UBUNTU_INSTALLERS if k in data), None)
        if found:
            installer, data = found, data[found]
        else:
            if codename not in data and "*" not in data:
                return None
            data = data[codename] if codename in data else data["*"]
            if isinstance(data, dict):
                found = next((k for k in UBUNTU_INSTALLERS if k in data), None)
                if found:
                    installer, data = found, data[found]
    if data is None or not isinstance(data, (dict, list, str)):
        return None
    packages = data.get("packages", []) if isinstance(data, dict) else data
    return installer, [packages] if isinstance(packages, str) else packages


def check_keys(keys: list[str], snapshot: dict) -> list[str]:
    """Problems, one line each, of ``keys`` against the snapshot."""
    problems = []
    ros, rules = snapshot["ros_packages"], snapshot["rules"]
    for key in keys:
        if key not in ros and key not in rules and key not in snapshot["absent"]:
            problems.append(f"{key}: not in {SNAPSHOT.relative_to(REPO)}; run this script with --refresh")
            continue
        for distro, codenames in snapshot["platforms"].items():
            if distro in ros.get(key, []):
                continue
            if key not in rules:
                problems.append(f"{key}: no rule in {' or '.join(RULE_FILES)} and no ROS package of that name "
                                f"in {distro}: `rosdep install` fails")
                break
            for codename in codenames:
                if resolve(rules[key]["rule"], "ubuntu", codename) is None:
                    problems.append(f"{key}: {rules[key]['file']} has no rule for ubuntu {codename} ({distro})")
    return problems


def requirement_name(line: str) -> str:
    """PEP 503 normalised project name of a requirements line ("minari[hdf5]==0.5.4" -> "minari")."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    assert match, f"not a requirement: {line!r}"
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def read_requirements(path: Path) -> dict[str, str]:
    """name -> the requirement as written, of every requirement line of ``path``."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {requirement_name(line): line for line in lines if line}


def candidate_keys(name: str) -> list[str]:
    """The keys rosdistro's naming rules (CONTRIBUTING.md) would give PyPI project ``name``."""
    return [f"python3-{name}", f"python3-{name}-pip"]


def check_requirements(requirements: dict[str, str], distro_requirements: dict[str, str], keys: list[str],
                       snapshot: dict) -> list[str]:
    """Problems: a requirement that neither package.xml names nor requirements-distro.txt installs,
    a pip-installed one that has a key after all, and package.xml keys no requirement needs."""
    problems = []
    needed: set[str] = set()
    for name, line in requirements.items():
        if name in NOT_DEPENDENCIES:
            continue
        if name.startswith("ros-"):
            package = name.removeprefix("ros-").replace("-", "_")
            if package not in keys:
                problems.append(f"{name} (requirements.txt): package.xml has no <exec_depend>{package}</exec_depend>")
            continue
        if name not in REQUIREMENT_KEYS:
            problems.append(f"{name} (requirements.txt): add it to REQUIREMENT_KEYS in {Path(__file__).name} "
                            "with its rosdep key, or None if rosdep has none")
            continue
        key = REQUIREMENT_KEYS[name]
        if key is not None:
            needed.add(key)
            if key not in keys:
                problems.append(f"{name} (requirements.txt): package.xml lacks its key {key}")
            if name in distro_requirements:
                problems.append(f"{name}: rosdep installs it ({key}); remove it from requirements-distro.txt")
            continue
        if distro_requirements.get(name) != line:
            problems.append(f"{name}: has no rosdep key, so requirements-distro.txt must have {line!r} "
                            f"(has {distro_requirements.get(name)!r})")
        found = [k for k in candidate_keys(name) if k not in snapshot["absent"]]
        if found:
            problems.append(f"{name}: rosdep may have a key now ({', '.join(found)}): refresh the snapshot and "
                            "use the key")
    for name in distro_requirements.keys() - requirements.keys():
        problems.append(f"{name} (requirements-distro.txt): not in requirements.txt")
    for key in keys:
        if key.startswith("python3-") and key not in needed:
            problems.append(f"{key} (package.xml): no requirements.txt entry maps to it in REQUIREMENT_KEYS")
    return problems


def describe(key: str, snapshot: dict) -> str:
    """How rosdep resolves ``key``, on the first Ubuntu release of the snapshot, for the summary."""
    if key in snapshot["ros_packages"]:
        return "ROS package (" + " ".join(snapshot["ros_packages"][key]) + ")"
    codename = next(iter(snapshot["platforms"].values()))[0]
    installer, packages = resolve(snapshot["rules"][key]["rule"], "ubuntu", codename) or ("?", [])
    return f"{installer}: {' '.join(packages)} ({snapshot['rules'][key]['file']})"


class Rosdistro:
    """Files of a ros/rosdistro clone, work tree or bare git directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bare = not (path / "index-v4.yaml").is_file()
        self.commit, self.date = self._git("log", "-1", "--format=%H %cs").split()

    def _git(self, *args: str) -> str:
        flag = ["--git-dir", str(self.path)] if self.bare else ["-C", str(self.path)]
        return subprocess.run(["git", *flag, *args], capture_output=True, text=True, check=True).stdout

    def load(self, name: str) -> Any:
        text = self._git("show", f"HEAD:{name}") if self.bare else (self.path / name).read_text()
        return yaml.safe_load(text)


def refresh(rosdistro: Rosdistro, keys: list[str]) -> dict:
    """The snapshot for ``keys``: active ROS 2 distros and their Ubuntu releases, which of them
    release each key as a ROS package, each key's rule, and the keys found nowhere."""
    index = rosdistro.load("index-v4.yaml")["distributions"]
    platforms, released = {}, {}
    for distro, entry in sorted(index.items()):
        if entry.get("distribution_type") != "ros2" or entry.get("distribution_status") != "active":
            continue
        dist = rosdistro.load(entry["distribution"][0])
        platforms[distro] = dist["release_platforms"].get("ubuntu", [])
        released[distro] = {package for name, repo in dist["repositories"].items()
                            if (repo.get("release") or {}).get("version")
                            for package in repo["release"].get("packages", [name])}
    rules: dict[str, dict] = {}
    for name in RULE_FILES:
        for key, rule in rosdistro.load(name).items():
            if key in keys and key not in rules:
                rules[key] = {"file": name, "rule": rule}
    ros_packages = {key: [d for d in platforms if key in released[d]] for key in keys}
    ros_packages = {key: distros for key, distros in ros_packages.items() if distros}
    return {
        "source": {"repository": "https://github.com/ros/rosdistro", "commit": rosdistro.commit,
                   "date": rosdistro.date},
        "platforms": platforms,
        "ros_packages": ros_packages,
        "rules": rules,
        "absent": sorted(k for k in keys if k not in rules and k not in ros_packages),
    }


class _NoAliases(yaml.SafeDumper):
    """Writes a rule shared by two keys (a YAML alias in rosdistro) in full under each."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_snapshot(snapshot: dict, path: Path) -> None:
    header = ("# What rosdep reads for jsrl_ros's dependency keys, from ros/rosdistro at the commit below.\n"
              "# Generated by scripts/check_rosdep_keys.py --refresh; do not edit.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.dump(snapshot, Dumper=_NoAliases, sort_keys=False, default_flow_style=None, width=110)
    path.write_text(header + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refresh", type=Path, metavar="ROSDISTRO",
                        help="a clone of github.com/ros/rosdistro to rewrite the snapshot from")
    args = parser.parse_args(argv)
    keys = package_keys(REPO / "package.xml")
    if args.refresh:
        searched = keys + [k for name, key in REQUIREMENT_KEYS.items() if key is None for k in candidate_keys(name)]
        write_snapshot(refresh(Rosdistro(args.refresh), searched), SNAPSHOT)
    snapshot = yaml.safe_load(SNAPSHOT.read_text())
    problems = check_keys(keys, snapshot) + check_requirements(
        read_requirements(REPO / "requirements.txt"), read_requirements(REPO / "requirements-distro.txt"),
        keys, snapshot)
    source = f"ros/rosdistro@{snapshot['source']['commit'][:10]} ({snapshot['source']['date']})"
    if problems:
        print(f"package.xml against {source}:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    width = max(map(len, keys))
    for key in keys:
        print(f"{key:<{width}}  {describe(key, snapshot)}")
    on = ", ".join(f"{d} ({' '.join(c)})" for d, c in snapshot["platforms"].items())
    print(f"ok: {len(keys)} keys resolve on {on}, per {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
