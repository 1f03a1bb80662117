"""The layout is part of the design: imports point down only, and the code stays lint-clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = {
    "app",
    "api",
    "models",
    "nlp",
    "transcription",
    "security",
    "workflow",
    "benchmarks",
    "tests",
}
# What each layer may import of ours (itself included).
ALLOWED = {
    "models": {"models"},
    "transcription": {"transcription", "models"},
    "nlp": {"nlp", "models"},
    "security": {"security", "models"},
    "workflow": {"workflow", "security", "transcription", "nlp", "models"},
    "api": {"api", "workflow", "security", "transcription", "nlp", "models"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down_only(layer: str) -> None:
    files = sorted((REPO / layer).rglob("*.py"))
    assert files, f"{layer}/ has no modules"
    wrong = {str(f.relative_to(REPO)): sorted(imported_packages(f) - ALLOWED[layer]) for f in files}
    assert {f: w for f, w in wrong.items() if w} == {}


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from workflow.pipeline import StatementPipeline\nimport numpy\n")
    assert imported_packages(module) == {"workflow"}


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def test_ruff_is_clean() -> None:
    ruff = _tool("ruff")
    check = subprocess.run([ruff, "check", "."], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_is_clean() -> None:
    mypy = _tool("mypy")
    result = subprocess.run([mypy, "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
