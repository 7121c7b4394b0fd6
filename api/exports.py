"""A stored trial's export, written from its database row: what ``GET …/export`` zips, and what a
job that names the trial as ``training.initial_weights: job:<job>/<trial>`` starts from."""

from __future__ import annotations

from pathlib import Path

from api.db.models import Job, TrialRecord
from api.schemas import TrialOut
from search_spaces import JobSpec


def export_stored_trial(job: Job, row: TrialRecord, out_dir: Path, onnx: bool = True) -> Path:
    """Write the export of ``row`` (a trial of ``job``) to ``out_dir``: the network its job's spec
    and its point (fitted anchors included) build, its checkpoint's weights, and its record as
    metrics.json. ``workers.api.MissingCheckpointError`` when the checkpoint can no longer be
    read. The workers are imported here, not at the top: they bring Ray, which the API's other
    routes never need."""
    from workers.api import SearchTrial, export_trial, trial_config_of

    trial = SearchTrial(trial_id=row.trial_id, status=row.status, point=row.point, anchors=row.anchors)
    config = trial_config_of(JobSpec.model_validate(job.spec), trial)
    metrics = TrialOut.model_validate(row).model_dump(exclude={"history"})
    return export_trial(config, out_dir, metrics, row.checkpoint, onnx=onnx)
