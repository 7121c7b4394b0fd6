"""``training.initial_weights: job:<job_id>[/<trial_id>]``: the trained weights of an earlier job
of the same team. The door checks that the reference names a trial with weights; the runner
exports that trial once into the new job's folder, where ``run_search`` reads it as it reads any
Scaler export. Both find the trial with ``referenced_trial``, so that they agree on what a
reference means."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Job, TrialRecord
from api.exports import export_stored_trial
from scaler import ScalingPoint
from search_spaces import JobSpec, parse_weights_reference, scaling_values
from workers.api import MEASURED_STATUSES

PARTIAL_PREFIX = "."  # an export being written: a runner killed meanwhile leaves it unused


class WeightsReferenceError(ValueError):
    """A ``job:`` reference that names no usable trial of the caller's team."""


def referenced_trial(
    session: Session, team_id: int, job_id: str, trial_id: str | None
) -> tuple[Job, TrialRecord]:
    """The job and trial a reference names: the named trial, or (``trial_id`` None) the job's best
    front trial by the job's own accuracy objective. Another team's job is "not found", as a job
    that does not exist: a reference must not tell one team what another has."""
    job = session.get(Job, job_id)
    if job is None or job.team_id != team_id:
        raise WeightsReferenceError(f"job {job_id!r} not found")
    if trial_id is None:
        front = session.scalars(
            select(TrialRecord).where(TrialRecord.job_id == job_id, TrialRecord.trial_id.in_(job.front or []))
        ).all()
        if not front:
            raise WeightsReferenceError(f"job {job_id!r} has no trial on its front (yet)")
        accuracy = JobSpec.model_validate(job.spec).objectives.accuracy
        row = max(front, key=lambda candidate: getattr(candidate, accuracy))
    else:
        found = session.scalar(
            select(TrialRecord).where(TrialRecord.job_id == job_id, TrialRecord.trial_id == trial_id)
        )
        if found is None:
            raise WeightsReferenceError(f"trial {trial_id!r} not found in job {job_id!r}")
        row = found
    if row.status not in MEASURED_STATUSES:
        raise WeightsReferenceError(
            f"trial {row.trial_id!r} of job {job_id!r} is {row.status}: no trained weights"
        )
    if not row.checkpoint:
        raise WeightsReferenceError(
            f"trial {row.trial_id!r} of job {job_id!r} has no checkpoint: its weights were not kept"
        )
    return job, row


def trial_family(row: TrialRecord) -> str:
    """The compound-scaling family of a stored trial's network (the scaling point's default when
    its point does not say, as for any trial built from it)."""
    return str(scaling_values(row.point).get("family", ScalingPoint.family))


def export_referenced_weights(session: Session, team_id: int, value: str, folder: Path) -> Path | None:
    """Where the weights ``value`` names lie for a job whose folder for them is ``folder``: None
    for a path (``run_search`` reads it itself, inside the data roots); for a ``job:`` reference
    the export of its trial, written once into ``folder/<trial_id>`` (no ONNX: only the weights
    and their structure are read). An export already there is used as it is, without looking the
    reference up again: a resumed job keeps starting from the weights it started from, even when
    the earlier job's front has changed since."""
    reference = parse_weights_reference(value)
    if reference is None:
        return None
    if folder.is_dir():
        done = sorted(
            path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(PARTIAL_PREFIX)
        )
        if done:
            return done[0]
    job, row = referenced_trial(session, team_id, *reference)
    target = folder / row.trial_id
    if target.parent != folder or row.trial_id.startswith(PARTIAL_PREFIX):  # a trial id is a plain name
        raise WeightsReferenceError(f"trial id {row.trial_id!r} is not a usable folder name")
    partial = folder / f"{PARTIAL_PREFIX}{row.trial_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    export_stored_trial(job, row, partial, onnx=False)
    partial.rename(target)
    return target
