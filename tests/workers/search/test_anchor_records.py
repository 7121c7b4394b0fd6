"""Anchors you can see: a trial records its anchor fit's best possible recall before and after
(None when no fit ran), MLflow logs the fit, and the fitted anchors reach the exported model.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from search_spaces import JobSpec, parse_job_spec
from tests.workers.search.trial_reports import tiny_spec, trial_reports
from workers.results import TrialReport, TrialStatus
from workers.search.recorder import record


def _anchored(dataset: Path, anchors: bool, **changes: object) -> JobSpec:
    """``tiny_spec`` (64 px: the P5 preset's anchors miss the synthetic dataset's smallest boxes)
    with anchor fitting on or off."""
    document = tiny_spec(dataset, **changes).model_dump(mode="json")
    document["space"]["hyperparameters"]["anchors"] = anchors
    return parse_job_spec(document)


def test_a_trial_records_the_recall_of_its_anchor_fit_and_none_without_one(synth_dataset, monkeypatch):
    budget = {"max_trials": 1, "epochs_per_trial": 1, "max_concurrent_trials": 1}
    one = {"budget": budget, "scheduler": "fifo"}
    fitted = trial_reports(_anchored(synth_dataset, True, **one), monkeypatch)
    final = TrialReport.from_metrics(fitted[-1])
    assert final.status is TrialStatus.COMPLETED and final.anchors is not None
    assert 0.0 <= final.anchor_recall_before < final.anchor_recall_after <= 1.0
    # every report carries them, from the first epoch's, and the trial's record keeps them
    assert {(r["anchor_recall_before"], r["anchor_recall_after"]) for r in fitted} == {
        (final.anchor_recall_before, final.anchor_recall_after)
    }
    trial = record("t0", {}, fitted[-1], finished=True)
    assert (trial.anchor_recall_before, trial.anchor_recall_after) == (
        final.anchor_recall_before,
        final.anchor_recall_after,
    )

    unfitted = trial_reports(_anchored(synth_dataset, False, **one), monkeypatch)
    final = TrialReport.from_metrics(unfitted[-1])
    assert final.status is TrialStatus.COMPLETED and final.anchors is None
    assert final.anchor_recall_before is None and final.anchor_recall_after is None
    trial = record("t1", {}, unfitted[-1], finished=True)
    assert trial.anchor_recall_before is None and trial.anchor_recall_after is None


@pytest.mark.slow
def test_fitted_anchors_reach_the_exported_model_yaml_and_mlflow(local_ray, synth_dataset, tmp_path):
    from mlflow.tracking import MlflowClient

    from scaler.yaml_io import load_model_yaml
    from workers.search.mlflow_logger import ANCHORS_ARTIFACT
    from workers.search.points import trial_config
    from workers.search.run import run_search
    from workers.trial import build_network

    spec = _anchored(
        synth_dataset,
        True,
        budget={"max_trials": 1, "epochs_per_trial": 1, "max_concurrent_trials": 1},
        scheduler="fifo",
    )
    result = run_search(spec, tmp_path / "search")
    (trial,) = result.trials
    assert trial.status == "completed" and result.front == (trial.trial_id,)
    assert trial.anchors is not None
    assert 0.0 <= trial.anchor_recall_before < trial.anchor_recall_after <= 1.0
    fitted = tuple(tuple(level) for level in json.loads(trial.anchors))
    preset = build_network(trial_config(spec, trial.point), 3).detect.anchors
    assert len(fitted) == len(preset) and fitted != preset  # the fit changed them

    folder = Path(result.export_dir) / trial.trial_id
    document = yaml.safe_load((folder / "model.yaml").read_text())
    assert [[float(value) for value in level] for level in document["anchors"]] == [
        list(level) for level in fitted
    ]
    assert load_model_yaml(folder / "model.yaml").detect.anchors == fitted

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'search' / 'mlflow.db'}")
    parent = client.get_run(result.mlflow_run_id)
    (run,) = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'"
    )
    assert run.data.metrics["final_anchor_recall_before"] == pytest.approx(trial.anchor_recall_before)
    assert run.data.metrics["final_anchor_recall_after"] == pytest.approx(trial.anchor_recall_after)
    assert json.loads(run.data.params["anchors"]) == json.loads(trial.anchors)
    logged = Path(client.download_artifacts(run.info.run_id, ANCHORS_ARTIFACT, str(tmp_path)))
    assert json.loads(logged.read_text()) == {
        "anchors": json.loads(trial.anchors),
        "image_size": trial.image_size,
        "recall_before": trial.anchor_recall_before,
        "recall_after": trial.anchor_recall_after,
    }
