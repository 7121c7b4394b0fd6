"""The public front of ``workers``: every name that ``api`` and ``cli`` use, and the only workers
module they may import (``tests/test_architecture.py``). Behind it the package is free to move
things between its modules.

Importing this module imports nothing else of ``workers``: each name is looked up in its home
module when it is first asked for (module ``__getattr__``), so ``from workers.api import
open_dataset`` costs what ``from workers.data.open import open_dataset`` cost (numpy, no torch),
while ``run_search`` brings Ray and torch only to the caller that asks for it. The names are not
cached here: a test that replaces a name in its home module is seen through the front too."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.data.boxes import label_size_sample
    from workers.data.dataset import Dataset, DatasetError
    from workers.data.open import open_dataset
    from workers.data.roots import ALLOW_HINT, DataRoots, OutsideRootsError
    from workers.data.synth import SynthConfig, write_synth_dataset
    from workers.devices import local_resources
    from workers.export import MissingCheckpointError, export_trial, zip_export
    from workers.latency_cache import cache_entry, cache_scope, scope_of, storable
    from workers.latency_model import (
        LatencyModel,
        fit,
        graph_rules,
        load_model,
        local_target,
        model_path,
        space_networks,
        timed_samples,
    )
    from workers.results import (
        FAILED_STATUSES,
        MEASURED_STATUSES,
        UNSTABLE_SPREAD,
        CocoMetrics,
        LatencyStats,
        TrialStatus,
    )
    from workers.search.initial_models import InitialModelError, resolve_initial_models
    from workers.search.outcome import (
        SearchResult,
        SearchTrial,
        TrialOrigin,
        predictor_summary,
        screened_count,
        summarise,
    )
    from workers.search.points import trial_config_of
    from workers.search.resources import resolve_resources
    from workers.search.run import ensure_ray, run_search
    from workers.training.hyp import RENAMED, Hyperparameters, HypError
    from workers.training.optim import OPTIMIZERS
    from workers.trial import LatencyTarget, TrialConfig, build_network, run_trial

HOME_MODULES: dict[str, str] = {
    # datasets: cheap (numpy, yaml, PIL)
    "ALLOW_HINT": "workers.data.roots",
    "DataRoots": "workers.data.roots",
    "Dataset": "workers.data.dataset",
    "DatasetError": "workers.data.dataset",
    "OutsideRootsError": "workers.data.roots",
    "SynthConfig": "workers.data.synth",
    "label_size_sample": "workers.data.boxes",
    "open_dataset": "workers.data.open",
    "write_synth_dataset": "workers.data.synth",
    # records and settings: cheap
    "Hyperparameters": "workers.training.hyp",
    "HypError": "workers.training.hyp",
    "RENAMED": "workers.training.hyp",
    "OPTIMIZERS": "workers.training.optim",
    "InitialModelError": "workers.search.initial_models",
    "resolve_initial_models": "workers.search.initial_models",
    "SearchResult": "workers.search.outcome",
    "SearchTrial": "workers.search.outcome",
    "TrialOrigin": "workers.search.outcome",
    "TrialStatus": "workers.results",
    "CocoMetrics": "workers.results",
    "UNSTABLE_SPREAD": "workers.results",
    "MEASURED_STATUSES": "workers.results",
    "FAILED_STATUSES": "workers.results",
    "LatencyStats": "workers.results",
    "summarise": "workers.search.outcome",
    "predictor_summary": "workers.search.outcome",
    "screened_count": "workers.search.outcome",
    "cache_entry": "workers.latency_cache",
    "cache_scope": "workers.latency_cache",
    "scope_of": "workers.latency_cache",
    "storable": "workers.latency_cache",
    # training and export: torch
    "LatencyTarget": "workers.trial",
    "MissingCheckpointError": "workers.export",
    "TrialConfig": "workers.trial",
    "export_trial": "workers.export",
    "run_trial": "workers.trial",
    "build_network": "workers.trial",
    "zip_export": "workers.export",
    # latency models per device: torch, scipy
    "LatencyModel": "workers.latency_model",
    "fit": "workers.latency_model",
    "graph_rules": "workers.latency_model",
    "load_model": "workers.latency_model",
    "local_target": "workers.latency_model",
    "model_path": "workers.latency_model",
    "space_networks": "workers.latency_model",
    "timed_samples": "workers.latency_model",
    # the search: Ray, Optuna, MLflow and torch
    "ensure_ray": "workers.search.run",
    "local_resources": "workers.devices",
    "resolve_resources": "workers.search.resources",
    "run_search": "workers.search.run",
    "trial_config_of": "workers.search.points",
}

__all__ = [
    "ALLOW_HINT",
    "FAILED_STATUSES",
    "MEASURED_STATUSES",
    "OPTIMIZERS",
    "RENAMED",
    "UNSTABLE_SPREAD",
    "CocoMetrics",
    "DataRoots",
    "Dataset",
    "DatasetError",
    "HypError",
    "Hyperparameters",
    "InitialModelError",
    "LatencyModel",
    "LatencyStats",
    "LatencyTarget",
    "MissingCheckpointError",
    "OutsideRootsError",
    "SearchResult",
    "SearchTrial",
    "SynthConfig",
    "TrialConfig",
    "TrialOrigin",
    "TrialStatus",
    "build_network",
    "cache_entry",
    "cache_scope",
    "ensure_ray",
    "export_trial",
    "fit",
    "graph_rules",
    "label_size_sample",
    "load_model",
    "local_resources",
    "local_target",
    "model_path",
    "open_dataset",
    "predictor_summary",
    "resolve_initial_models",
    "resolve_resources",
    "run_search",
    "run_trial",
    "scope_of",
    "screened_count",
    "space_networks",
    "storable",
    "summarise",
    "timed_samples",
    "trial_config_of",
    "write_synth_dataset",
    "zip_export",
]


def __getattr__(name: str) -> object:
    """``name`` from its home module, imported now if it was not yet."""
    home = HOME_MODULES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
