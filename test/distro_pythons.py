"""The Python versions that ROS 2 distros run on, found on this machine for the packaging tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HUMBLE_PYTHON = "3.10"  # Ubuntu 22.04
JAZZY_PYTHON = "3.12"   # Ubuntu 24.04, also Kilted's


def python_version(exe: str) -> str:
    """"3.10" for a Python 3.10 interpreter."""
    out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def find_python(version: str | None) -> str:
    """An interpreter of ``version`` (with venv) from PATH or pyenv; this interpreter where there is
    none, or for None. Test ids name the version found, so a fallback shows in the results."""
    if version is None:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"), *sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")))]
    for exe in filter(None, candidates):
        probe = subprocess.run([exe, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return exe
    return sys.executable
