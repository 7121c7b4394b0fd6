"""A job's events: what happened to it, in the order it happened, as ``GET /v1/jobs/{id}/events``
serves them (a Server-Sent Events stream, or a JSON page of them). Each kind and its payload are
defined here once; the job runner adds them (``api.runner``) in the same transaction as the change
they tell of, so an event is never seen before the rows it is about, nor a job's end without its
``job_ended``. An event's id (the ``events`` table's) increases in the order events are written: a
client that reconnects sends the last one it saw (``Last-Event-ID``) and gets only later ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Job, JobEvent, TrialRecord
from api.job_states import FINISHED_STATES
from api.schemas import UtcDateTime

if TYPE_CHECKING:
    from workers.api import SearchTrial

ERROR_CHARACTERS = 300  # of a reason, in an event (the job and its trials hold the whole text)
MAX_EVENT_ID = 2**31 - 1  # the ids' column is a 32-bit integer on PostgreSQL


class EventKind(StrEnum):
    JOB_STARTED = "job_started"  # a runner took the job (again, after a resume: ``resumed``)
    TRIAL_STARTED = "trial_started"  # the search's first word of a trial (its first report)
    EPOCH_REPORTED = "epoch_reported"
    TRIAL_ENDED = "trial_ended"
    FRONT_CHANGED = "front_changed"  # the Pareto front's trials or its hypervolume changed
    JOB_ENDED = "job_ended"  # done, failed or cancelled: the stream ends after it
    WEBHOOK_CALLED = "webhook_called"  # one attempt at the job's ``notify.webhook``, after job_ended


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: ClassVar[EventKind]


class JobStarted(Payload):
    kind: ClassVar[EventKind] = EventKind.JOB_STARTED
    resumed: bool  # the search goes on from its saved state


class TrialStarted(Payload):
    kind: ClassVar[EventKind] = EventKind.TRIAL_STARTED
    trial_id: str


class EpochReported(Payload):
    kind: ClassVar[EventKind] = EventKind.EPOCH_REPORTED
    trial_id: str
    epoch: int  # epochs the trial has trained
    ap: float
    latency_ms: float | None


class TrialEnded(Payload):
    kind: ClassVar[EventKind] = EventKind.TRIAL_ENDED
    trial_id: str
    status: str  # workers.results.TrialStatus
    epochs: int
    ap: float
    latency_ms: float | None
    error: str | None  # the reason's first line


class FrontChanged(Payload):
    kind: ClassVar[EventKind] = EventKind.FRONT_CHANGED
    front: list[str]  # the trials on the front
    hypervolume: float | None


class JobEnded(Payload):
    """Also the body of the job's webhook (``api.webhook``), with the job's id and name."""

    kind: ClassVar[EventKind] = EventKind.JOB_ENDED
    status: str  # api.job_states.JobState
    error: str | None
    best_trial: str | None  # the measured trial of the best AP
    best_ap: float | None
    front_size: int
    hypervolume: float | None


class WebhookCalled(Payload):
    kind: ClassVar[EventKind] = EventKind.WEBHOOK_CALLED
    attempt: int  # 1, 2, …
    delivered: bool  # the hook answered 2xx
    status_code: int | None  # its answer; None when none came
    error: str | None


class EventOut(BaseModel):
    """An event as the API serves it: the data of an SSE message, an item of the JSON page."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: EventKind
    payload: dict[str, Any]  # the kind's payload (api.events)
    created_at: UtcDateTime


class EventList(BaseModel):
    items: list[EventOut]
    # the job has ended and no later event is stored (a webhook's attempts may still come after)
    finished: bool


def short_error(text: str | None) -> str | None:
    """A reason's first line, bounded: what an event carries of it."""
    if not text:
        return None
    return text.strip().splitlines()[0][:ERROR_CHARACTERS] if text.strip() else None


def epoch_reported(trial: SearchTrial) -> EpochReported:
    return EpochReported(
        trial_id=trial.trial_id, epoch=trial.epochs, ap=trial.ap, latency_ms=trial.latency_ms
    )


def trial_ended(trial: SearchTrial | TrialRecord) -> TrialEnded:
    """The end of a trial, from its record or its row."""
    return TrialEnded(
        trial_id=trial.trial_id,
        status=trial.status,
        epochs=trial.epochs,
        ap=trial.ap,
        latency_ms=trial.latency_ms,
        error=short_error(trial.error),
    )


def add_event(session: Session, job_id: str, payload: Payload) -> None:
    """Adds the event to the session: it is written with the session's next commit."""
    session.add(JobEvent(job_id=job_id, kind=payload.kind.value, payload=payload.model_dump(mode="json")))


def add_front_change(session: Session, job: Job, front: Sequence[str], hypervolume: float | None) -> None:
    """A ``front_changed`` event when ``front`` or ``hypervolume`` differs from what the job holds
    (call it before storing them on the job)."""
    if list(job.front or []) != list(front) or job.hypervolume != hypervolume:
        add_event(session, job.id, FrontChanged(front=list(front), hypervolume=hypervolume))


def job_ended(session: Session, job: Job) -> JobEnded:
    """The ``job_ended`` payload of a job whose status, front and hypervolume are final."""
    from workers.api import MEASURED_STATUSES

    best = session.execute(
        select(TrialRecord.trial_id, TrialRecord.ap)
        .where(TrialRecord.job_id == job.id, TrialRecord.status.in_(sorted(MEASURED_STATUSES)))
        .order_by(TrialRecord.ap.desc(), TrialRecord.trial_id)
        .limit(1)
    ).first()
    return JobEnded(
        status=job.status,
        error=short_error(job.error),
        best_trial=best.trial_id if best else None,
        best_ap=float(best.ap) if best else None,
        front_size=len(job.front or []),
        hypervolume=job.hypervolume,
    )


def end_job(session: Session, job: Job) -> JobEnded:
    """Adds the ``job_ended`` event of ``job``, just given its final status (same commit)."""
    ended = job_ended(session, job)
    add_event(session, job.id, ended)
    return ended


def events_after(session: Session, job_id: str, after: int, limit: int) -> EventList:
    """The job's events after id ``after``, oldest first, at most ``limit``. The job's status is
    read first: a job seen finished has its ``job_ended`` committed already, so a page that is not
    full then holds the last of them (a job that no longer exists is finished too)."""
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    rows = session.scalars(
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.id > after)
        .order_by(JobEvent.id)
        .limit(limit)
    ).all()
    items = [EventOut.model_validate(row) for row in rows]
    ended = status is None or status in FINISHED_STATES
    return EventList(items=items, finished=ended and len(items) < limit)


def sse_message(event: EventOut) -> bytes:
    """The event in the SSE wire format: ``id``, ``event`` (its kind) and ``data`` (EventOut as JSON)."""
    from fastapi.sse import format_sse_event

    data = json.dumps(event.model_dump(mode="json"), separators=(",", ":"))
    return format_sse_event(data_str=data, event=event.kind.value, id=str(event.id))
