"""The browser pages: static HTML, JavaScript and CSS that talk to the REST API over HTTP only
(with the caller's bearer token). The API serves them under ``/dashboard``; plotly.js comes from
the installed ``plotly`` package, so the pages work with no internet."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PAGES = {"jobs": "index.html", "job": "job.html", "compare": "compare.html"}


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "static"


def page(name: str) -> Path:
    return static_dir() / PAGES[name]


def plotly_bundle() -> Path:
    """plotly.min.js as shipped inside the ``plotly`` Python package."""
    found = importlib.util.find_spec("plotly")
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError("the plotly package is not installed (pip install plotly)")
    bundle = Path(next(iter(found.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not bundle.is_file():
        raise FileNotFoundError(f"no plotly.min.js in {bundle.parent}")
    return bundle
