"""The dependency rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scaler", "search_spaces", "workers", "api", "dashboards", "cli")
FORBIDDEN = {
    "scaler": {"search_spaces", "workers", "api", "dashboards", "cli", "ray", "optuna", "mlflow", "fastapi"},
    "search_spaces": {"scaler", "workers", "api", "dashboards", "cli", "torch", "ray"},
    "workers": {"api", "dashboards", "cli"},
    "api": {"cli"},  # api.routes.dashboard alone may import dashboards (its file paths)
    "dashboards": {"scaler", "search_spaces", "workers", "api", "cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_packages_import_only_downwards(package):
    violations = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    if package == "api":  # only the route that serves the pages may find their files
        violations["api importing dashboards"] = sorted(
            str(path.relative_to(ROOT))
            for path in (ROOT / "api").rglob("*.py")
            if "dashboards" in _imports(path) and path.name != "dashboard.py"
        )
    assert {path: names for path, names in violations.items() if names} == {}


def test_scaler_has_no_eval_or_globals_lookups():
    for path in (ROOT / "scaler").rglob("*.py"):
        tree = ast.parse(path.read_text())
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not calls & {"eval", "exec", "globals"}, path


def test_importing_the_model_side_starts_nothing_heavy():
    code = (
        "import sys, scaler, scaler.profile, scaler.onnx_export, cli.main;"
        "heavy = {'ray', 'mlflow', 'optuna', 'fastapi', 'sqlalchemy'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_importing_the_service_and_the_spaces_starts_no_search_machinery():
    code = (
        "import sys, search_spaces, search_spaces.mutation, search_spaces.pareto;"
        "assert 'torch' not in sys.modules, 'search_spaces imported torch';"
        "import api.app, api.scheduler, api.runner;"
        "heavy = {'ray', 'mlflow', 'optuna'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
