"""The short CPU training recipe, for the bench scripts: read from the preset file that the
short-budget presets include (``search_spaces/presets/_short-cpu-recipe.yaml``: Adam at batch 8,
lr0 0.004, a half-epoch warm-up, light augmentation), so that it is written down once."""

from __future__ import annotations

from typing import Any

from search_spaces import SHORT_RECIPE_PART, preset_document
from workers.training.hyp import Hyperparameters

RECIPE = SHORT_RECIPE_PART


def recipe_hyperparameters() -> dict[str, float]:
    """The recipe's hyperparameters, as a job's ``space.hyperparameters.base``."""
    return dict(preset_document(RECIPE)["space"]["hyperparameters"]["base"])


def recipe_training() -> dict[str, Any]:
    """The recipe's training settings, as a job's ``training``: batch_size, nominal_batch, optimizer."""
    return dict(preset_document(RECIPE)["training"])


def recipe_overrides() -> str:
    """The recipe's hyperparameters as the scripts' ``--hyp`` takes them: 'lr0=0.004,…'."""
    return ",".join(f"{key}={value:g}" for key, value in recipe_hyperparameters().items())


def hyperparameters_from(overrides: str) -> Hyperparameters:
    """A ``--hyp`` value ('key=value,…'; '' for the reference defaults) as hyperparameters."""
    pairs = dict(item.split("=") for item in overrides.split(",") if item)
    return Hyperparameters.from_mapping({key: float(value) for key, value in pairs.items()})
