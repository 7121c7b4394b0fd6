"""Fixed candidates of the search benchmark's space (``bench/search_efficiency.py``), for the paired
probes that train the same networks under two variants of a training setting."""

from __future__ import annotations

import json
from pathlib import Path

from recipe import recipe_hyperparameters, recipe_training

from scaler import ScalingPoint
from workers.results import TrialResult
from workers.training.hyp import FINE_TUNE_CHANGES, Hyperparameters
from workers.trial import TrialConfig

CANDIDATES = [  # input, depth, width, lr0, activation
    (64, 0.43, 0.17, 0.0088, "leaky"),
    (96, 0.33, 0.5, 0.001, "mish"),
    (64, 0.35, 0.3125, 0.004, "mish"),
    (96, 0.21, 0.44, 0.009, "leaky"),
    (96, 0.45, 0.25, 0.003, "mish"),
    (64, 0.25, 0.45, 0.006, "leaky"),
    (96, 0.4, 0.125, 0.005, "leaky"),
    (64, 0.5, 0.5, 0.002, "mish"),
]


def candidate_config(
    data: Path, candidate: tuple, epochs: int, restarts: tuple[int, ...] = (), fine_tune: bool = False
) -> TrialConfig:
    """The trial the search benchmark would run for ``candidate`` (the short CPU recipe: batch 8,
    Adam; one class); ``fine_tune``: started from trained weights, with the reference's fine-tuning
    file under the recipe, as a job with initial weights layers it (``points.trial_config``)."""
    size, depth, width, lr0, activation = candidate
    point = ScalingPoint(
        family="large",
        stages=5,
        depth_multiple=depth,
        width_multiple=width,
        activation=activation,
        input_size=size,
    )
    base = FINE_TUNE_CHANGES if fine_tune else {}
    return TrialConfig(
        data=str(data),
        point=point,
        image_size=size,
        epochs=epochs,
        restarts=restarts,
        **recipe_training(),
        hyp=Hyperparameters.from_mapping({**base, **recipe_hyperparameters(), "lr0": lr0}),
    )


def record_trial(variant: str, candidate: tuple, outcome: TrialResult, out: Path | None) -> dict:
    """One probe row (AP, AP50, training and validation loss per epoch), printed and appended to
    ``out`` as it goes, so that an interrupted probe keeps its finished candidates."""
    history = outcome.history
    row = {"variant": variant, "candidate": list(candidate), "error": outcome.error}
    row["ap"] = [round(epoch["metrics"]["ap"], 4) for epoch in history]
    row["ap50"] = [round(epoch["metrics"]["ap50"], 4) for epoch in history]
    row["train_loss"] = [round(epoch["losses"]["total"], 4) for epoch in history]
    row["val_loss"] = [round(epoch["val_losses"]["total"], 4) for epoch in history]
    return emit(row, out)


def emit(row: dict, out: Path | None) -> dict:
    """Print one probe row and append it to ``out`` as it goes."""
    print(json.dumps(row), flush=True)
    if out:
        with out.open("a") as stream:
            stream.write(json.dumps(row) + "\n")
    return row
