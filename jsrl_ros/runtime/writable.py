"""Paths a node writes to are checked at start, not at its first write.

A node that finds out at its first message that it cannot write would report healthy until
then and crash in a callback. :func:`require_writable_dir` creates the folder and writes and
removes a probe file in it while the node is built, so an unwritable path is one ConfigError
that names it (``spin_node`` prints one line, exit code 2) before the node ever reports on
``diagnostics``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from jsrl_learning.config import ConfigError


def require_writable_dir(path: str | Path, where: str) -> Path:
    """Create ``path`` (and its parents) and write and remove a probe file in it; ConfigError naming it if not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_probe."):
            pass
    except OSError as exc:
        raise ConfigError(f"{where}: {path} is not a writable folder ({exc.strerror or exc})") from exc
    return path
