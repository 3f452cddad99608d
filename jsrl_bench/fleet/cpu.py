"""CPU seconds of process trees, from /proc (Linux): a bringup and every node it started."""
from __future__ import annotations

import os
from pathlib import Path


def tree_cpu_s(roots: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds so far of each named root process and its living descendants (one
    pass over /proc, so the trees are read at one moment)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    totals = {}
    for name, root in roots.items():
        todo, total = [root], 0.0
        while todo:
            pid = todo.pop()
            total += cpu.get(pid, 0.0)
            todo.extend(children.get(pid, []))
        totals[name] = total
    return totals
