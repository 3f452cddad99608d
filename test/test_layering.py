"""The layers import downwards only (docs/architecture.md): the core names nothing above it, even in a
string; the simulators import none of our other packages; nothing imports the experiments layer."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABOVE_THE_CORE = re.compile(r"\b(jsrl_sim|jsrl_ros|jsrl_bench|rclpy)\b")


def python_files(folder: str) -> list[Path]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    return files


def imported_names(source: str) -> set[str]:
    """Every module an ``import``/``from ... import`` names (at any depth: lazy imports too), and every
    string constant that looks like a module path (``importlib.import_module("pkg.mod")``, ``"pkg.mod:fn"``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[\w.]+(:[\w.]+)?",
                                                                                            node.value):
            names.add(node.value.partition(":")[0])
    return names


def importers_of(packages: tuple[str, ...], folders: tuple[str, ...]) -> list[str]:
    """``file: module`` for each module of ``packages`` that a file under ``folders`` imports."""
    found = []
    for folder in folders:
        for path in python_files(folder):
            for name in sorted(imported_names(path.read_text())):
                if name.split(".")[0] in packages:
                    found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def test_the_core_names_nothing_above_it_even_in_a_string() -> None:
    mentions = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                for path in python_files("jsrl_learning")
                for number, line in enumerate(path.read_text().splitlines(), 1) if ABOVE_THE_CORE.search(line)]
    assert not mentions, "\n".join(mentions)


def test_the_simulators_import_none_of_our_other_packages() -> None:
    assert not importers_of(("jsrl_learning", "jsrl_ros", "jsrl_bench", "rclpy"), ("sim/jsrl_sim",))


def test_nothing_imports_the_experiments_layer() -> None:
    assert not importers_of(("jsrl_bench",), ("jsrl_learning", "sim/jsrl_sim", "jsrl_ros", "launch"))


@pytest.mark.parametrize("source", ["import jsrl_bench.cli", "def f():\n    from jsrl_bench.grasp import world",
                                    "TARGET = 'jsrl_bench.grasp.world:GRASP_ENV_ID'"])
def test_an_upward_import_is_found_however_it_is_written(source: str) -> None:
    assert any(name.startswith("jsrl_bench") for name in imported_names(source))
