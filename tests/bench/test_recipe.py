"""The bench scripts take the short CPU recipe from its preset file, not from copies of it."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from search_spaces import SHORT_RECIPE_PART, load_job_spec, preset_document
from workers.training.hyp import Hyperparameters

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_module(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """A bench script's module, imported as the scripts import each other (bench/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module(name)


def test_the_bench_recipe_is_the_preset_file_s(monkeypatch):
    recipe = _bench_module(monkeypatch, "recipe")
    document = preset_document(SHORT_RECIPE_PART)
    base = document["space"]["hyperparameters"]["base"]
    assert recipe.recipe_hyperparameters() == base
    assert recipe.recipe_training() == document["training"]
    # the --hyp default of train_tiny.py and once_for_all.py gives the same hyperparameters
    assert recipe.hyperparameters_from(recipe.recipe_overrides()) == Hyperparameters.from_mapping(base)
    assert recipe.hyperparameters_from("") == Hyperparameters()
    tiny = load_job_spec("tiny-cpu")  # what the short-budget presets train with
    assert dict(tiny.space.hyperparameters.base) == base
    assert tiny.training.model_dump(include=set(document["training"])) == document["training"]


def test_the_search_benchmark_s_candidates_and_jobs_train_with_the_recipe(monkeypatch):
    recipe = _bench_module(monkeypatch, "recipe")
    candidates = _bench_module(monkeypatch, "candidates")
    search_efficiency = _bench_module(monkeypatch, "search_efficiency")
    size, _, _, lr0, _ = candidates.CANDIDATES[0]
    config = candidates.candidate_config(Path("data"), candidates.CANDIDATES[0], epochs=18)
    assert config.image_size == size and config.hyp == Hyperparameters.from_mapping(
        {**recipe.recipe_hyperparameters(), "lr0": lr0}
    )
    assert {key: getattr(config, key) for key in recipe.recipe_training()} == recipe.recipe_training()
    job = search_efficiency.job(Path("data"), "nsga2", "fifo", 0, 144, 18, 40.0)
    assert job["space"]["hyperparameters"]["base"] == recipe.recipe_hyperparameters()
    assert job["training"] == recipe.recipe_training()
