"""A job's status, defined once: the value stored in ``jobs.status``, served by the API, filtered on
by ``GET /v1/jobs?status=`` and waited on by ``scaler watch``/``scaler demo`` (a trial's statuses
are ``workers.results.TrialStatus``). No heavy imports: the CLI reads it."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for a runner (new, resumed, or handed back by a stopping runner)
    RUNNING = "running"  # claimed by a runner, which keeps its heartbeat
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES: tuple[JobState, ...] = (JobState.QUEUED, JobState.RUNNING)
FINISHED_STATES: tuple[JobState, ...] = tuple(state for state in JobState if state not in ACTIVE_STATES)
RESUMABLE_STATES: tuple[JobState, ...] = (JobState.FAILED, JobState.CANCELLED)  # POST …/resume
