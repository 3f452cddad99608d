"""What the sweep benches' tests share (test_bench_grasp.py, test_bench_antmaze.py): a tiny sweep
run once per module, its JSON read back, a sweep run through ``jsrl bench``, and a re-run of a
tiny sweep that lacks one job."""
import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from jsrl_bench.cli.main import main


def run_tiny(run_bench: Callable[..., dict[str, Any]], cfg: Any, tmp_path_factory: Any, name: str
             ) -> tuple[Path, dict[str, Any]]:
    """The sweep's JSON path and the result it returned (for a module-scoped fixture)."""
    out = tmp_path_factory.mktemp("bench") / f"{name}.json"
    return out, run_bench(cfg, out, out.parent / "work")


def read_back(out: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON as written: strict JSON (no NaN) and the very result the sweep returned."""
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result, allow_nan=False))
    return written


def run_cli(bench: str, settings: dict[str, Any], tmp_path: Path, *options: str, code: int = 0) -> dict[str, Any]:
    """``jsrl bench BENCH --config`` with these settings and ``options`` (it must exit ``code``); the
    result JSON (None if there is none)."""
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    assert main(["bench", bench, "--config", str(path), "--out", str(tmp_path / "r.json"), *options]) == code
    return json.loads((tmp_path / "r.json").read_text()) if (tmp_path / "r.json").exists() else None


def rerun_without(module: Any, run_bench: Callable[..., dict[str, Any]], cfg: Any, out: Path, tmp_path: Path,
                  method: str, monkeypatch: pytest.MonkeyPatch, job_fns: tuple[str, ...]
                  ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Copy the sweep at ``out``, drop its ``method`` online record, and run the sweep again on the copy
    with ``module``'s ``job_fns`` counted: (the JSON before, the result after, what ran)."""
    before = json.loads(out.read_text())
    edited = {**before, "jobs": [j for j in before["jobs"] if j.get("method") != method]}
    assert len(edited["jobs"]) == len(before["jobs"]) - 1
    copy = tmp_path / out.name
    copy.write_text(json.dumps(edited))
    ran: list[str] = []
    for name in job_fns:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *args, _real=real, _name=name: ran.append(
            args[3] if _name == "run_online" else _name) or _real(*args))
    return before, run_bench(cfg, copy, tmp_path / "work"), ran


def by_job(jobs: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {(json.dumps(j["cell"], sort_keys=True), j.get("seed"), j.get("method", j["job"])): j for j in jobs}
