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


def assert_runs(code: str) -> None:
    """Runs ``code`` in a fresh interpreter at the repository's root; its assertions must hold."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_importing_the_model_side_starts_nothing_heavy():
    code = (
        "import sys, scaler, scaler.profile, scaler.onnx_export, cli.main;"
        "heavy = {'ray', 'mlflow', 'optuna', 'fastapi', 'sqlalchemy'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    assert_runs(code)


def test_importing_the_service_and_the_spaces_starts_no_search_machinery():
    code = (
        "import sys, search_spaces, search_spaces.mutation, search_spaces.pareto;"
        "assert 'torch' not in sys.modules, 'search_spaces imported torch';"
        "import api.app, api.scheduler, api.runner;"
        "heavy = {'ray', 'mlflow', 'optuna'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    assert_runs(code)


WORKERS_FRONT = "workers.api"


def _workers_imports(source: str) -> list[tuple[int, str]]:
    """Every import of a ``workers`` module in ``source`` (those inside functions too), as
    (line, the module imported; ``workers.x`` for ``from workers import x``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "workers"
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "workers":
                found += [(node.lineno, f"workers.{alias.name}") for alias in node.names]
            elif node.module.split(".")[0] == "workers":
                found.append((node.lineno, node.module))
    return found


def _past_the_front(source: str) -> list[str]:
    return [f"{line}: {module}" for line, module in _workers_imports(source) if module != WORKERS_FRONT]


def test_api_and_cli_reach_workers_only_through_its_front():
    paths = sorted([*(ROOT / "api").rglob("*.py"), *(ROOT / "cli").rglob("*.py")])
    assert len(paths) > 10
    violations = {
        str(path.relative_to(ROOT)): past for path in paths if (past := _past_the_front(path.read_text()))
    }
    assert violations == {}


def test_the_front_check_finds_imports_past_the_front_inside_functions_too():
    source = (
        "from workers.api import run_search\n"
        "import workers.api\n"
        "from workers import api\n"
        "def later():\n"
        "    from workers.search.run import run_search\n"
        "    from workers import trial\n"
        "    import workers.export\n"
    )
    assert _past_the_front(source) == ["5: workers.search.run", "6: workers.trial", "7: workers.export"]


def test_the_front_is_cheap_and_every_name_it_offers_resolves():
    code = (
        "import sys, importlib, workers.api as front;"
        "loaded = sorted(m for m in sys.modules if m.startswith('workers.') and m != 'workers.api');"
        "assert not loaded, loaded;"
        "from workers.api import open_dataset, DataRoots, MEASURED_STATUSES;"
        "heavy = {'torch', 'ray', 'mlflow', 'optuna'} & set(sys.modules);"
        "assert not heavy, heavy;"
        "assert sorted(front.__all__) == sorted(front.HOME_MODULES), 'HOME_MODULES and __all__ differ';"
        "missing = [n for n in front.__all__"
        " if getattr(front, n) is not getattr(importlib.import_module(front.HOME_MODULES[n]), n)];"
        "assert not missing, missing"
    )
    assert_runs(code)


TUNE_ADAPTER = "workers/search/tune_adapter.py"
# private attributes of Ray Tune and Optuna objects that the search has needed: outside the
# adapter no code may name them, whatever object they are read from or set on
KNOWN_PRIVATE = (
    "_ot_",
    "_local_tuner",
    "_remote_tuner",
    "_run_config",
    "_tune_config",
    "_brackets",
    "_rungs",
    "_trial_info",
    "_num_stopped",
)
INITIALISERS = ("__init__", "__post_init__", "__setstate__")


def _own_private_names() -> set[str]:
    """The private names our code defines: functions, classes, module- and class-level names, and
    attributes set on ``self`` in an initialiser. An attribute set on ``self`` anywhere else, or
    only read, is one a base class (e.g. Ray's) defines."""
    names: set[str] = set()
    for package in ("scaler", "search_spaces", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                if isinstance(node, ast.FunctionDef) and node.name in INITIALISERS:
                    names |= {
                        target.attr
                        for target in ast.walk(node)
                        if isinstance(target, ast.Attribute)
                        and isinstance(target.ctx, ast.Store)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    }
                if isinstance(node, ast.Module | ast.ClassDef):
                    for statement in node.body:
                        if isinstance(statement, ast.Assign):
                            targets = statement.targets
                        elif isinstance(statement, ast.AnnAssign):
                            targets = [statement.target]
                        else:
                            continue
                        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def _foreign_private_attributes(source: str, own: set[str]) -> list[str]:
    """Private attributes ``source`` reads or sets that our code does not define (or that are
    known Ray/Optuna ones), in the order they appear."""
    uses = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if node.attr not in own or node.attr.startswith(KNOWN_PRIVATE):
            uses.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"{line}: {text}" for line, _, text in sorted(uses)]


def test_private_ray_and_optuna_attributes_are_used_only_in_the_tune_adapter():
    assert (ROOT / TUNE_ADAPTER).is_file()
    own = _own_private_names()
    violations = {
        str(path.relative_to(ROOT)): uses
        for path in sorted((ROOT / "workers").rglob("*.py"))
        if str(path.relative_to(ROOT)) != TUNE_ADAPTER
        and (uses := _foreign_private_attributes(path.read_text(), own))
    }
    assert violations == {}


def test_the_private_attribute_check_finds_reads_writes_and_a_base_classs_attributes():
    source = (
        "class Search(OptunaSearch):\n"
        "    def __init__(self):\n"
        "        self._seen = {}\n"
        "    def tell(self, tuner):\n"
        "        self._seen.clear()\n"
        "        tuner._local_tuner._run_config = None\n"
        "        self._num_stopped = 0\n"
        "        self._not_ours = 1\n"
        "        return self._ot_study, self._metric\n"
    )
    own = _own_private_names() | {"_seen"}  # what this snippet's own __init__ adds
    assert _foreign_private_attributes(source, own) == [
        "6: tuner._local_tuner",
        "6: tuner._local_tuner._run_config",
        "7: self._num_stopped",
        "8: self._not_ours",
        "9: self._ot_study",
        "9: self._metric",
    ]
