"""What the sweep benches' tests share (test_bench_grasp.py, test_bench_antmaze.py): a tiny sweep
run once per module, its JSON read back, and a sweep run through ``jsrl bench``."""
import json
from pathlib import Path
from typing import Any, Callable

import yaml

from jsrl_learning.cli.main import main


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


def run_cli(bench: str, settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """``jsrl bench BENCH --config`` with these settings (it must exit 0); the result JSON."""
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    assert main(["bench", bench, "--config", str(path), "--out", str(tmp_path / "r.json")]) == 0
    return json.loads((tmp_path / "r.json").read_text())
