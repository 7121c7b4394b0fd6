"""What the search's trainable reports to Tune, got by running one trial in this process (no Ray):
the reports the scheduler and searcher tests feed to the real scheduler and searcher objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from search_spaces import JobSpec, parse_job_spec


def tiny_spec(dataset: Path, **changes: Any) -> JobSpec:
    """A job whose trial trains in seconds: 64 px, a narrow network, 2 epochs, no anchor fitting,
    one round of timing. ``objectives`` and its ``latency`` are merged into those defaults."""
    document: dict[str, Any] = {
        "name": "reports",
        "dataset": str(dataset),
        "space": {
            "architecture": {
                "family": ["large"],
                "input_size": [64],
                "stages": [5],
                "depth_multiple": {"low": 0.33, "high": 0.33},
                "width_multiple": {"low": 0.125, "high": 0.125},
                "activation": ["leaky"],
            },
            "hyperparameters": {
                "base": {"lr0": 0.004, "warmup_epochs": 0.5, "mosaic": 0.0},
                "search": ["lr0"],
                "anchors": False,
            },
        },
        "objectives": {"latency": {"runs": 30, "rounds": 1}},
        "budget": {"max_trials": 2, "epochs_per_trial": 2, "max_concurrent_trials": 1},
        "training": {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"},
        "searcher": "random",
        "scheduler": "moasha",
        "scheduling": {"grace_period": 1, "reduction_factor": 2},
    }
    objectives = changes.pop("objectives", {})
    latency = {**document["objectives"]["latency"], **objectives.get("latency", {})}
    document["objectives"] = {**objectives, "latency": latency}
    document.update(changes)
    return parse_job_spec(document)


def trial_reports(spec: JobSpec, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every result the trainable hands ``tune.report`` for the default point of ``spec``."""
    from ray import tune

    from workers.search.points import nest
    from workers.search.trainable import search_trial

    reports: list[dict[str, Any]] = []

    def report(metrics: dict[str, Any], **options: Any) -> None:
        reports.append(dict(metrics))

    monkeypatch.setattr(tune, "report", report)
    monkeypatch.setattr(tune, "get_checkpoint", lambda: None)
    threads = torch.get_num_threads()
    try:
        search_trial({"job": spec.model_dump(mode="json"), **nest(spec.space.default_point())})
    finally:
        torch.set_num_threads(threads)
    return reports
