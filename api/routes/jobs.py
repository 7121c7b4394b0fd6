"""Jobs: submit (JSON or YAML), list, status, cancel, resume."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller
from api.body import parse_model_body, read_body
from api.db.models import Job, TrialRecord, utcnow
from api.deps import SessionDep, SettingsDep, TeamDep
from api.errors import MAX_OFFSET, FieldError, error_responses
from api.events import end_job
from api.fair_share import waiting_reason
from api.job_states import FINISHED_STATES, RESUMABLE_STATES, JobState
from api.openapi import component_ref
from api.routing import SessionReleasingRoute
from api.runner import job_folder
from api.schemas import Created, ExtendIn, JobList, JobOut, JobStatus, LatencyPredictorOut
from api.settings import Settings
from api.validation import check_limits, validated_spec
from search_spaces import JobSpec
from workers.api import SearchTrial, predictor_summary, screened_count

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=SessionReleasingRoute)
OWNED_JOB_RESPONSES = error_responses(404)
STATE_CHANGE_RESPONSES = error_responses(404, 409)
JOB_SPEC_BODY: dict[str, Any] = {"schema": component_ref(JobSpec)}  # JSON or YAML alike


def owned_job(session: SessionDep, team: Caller, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.team_id != team.id:  # another team's job does not exist for you
        raise FieldError("job_id", f"no job {job_id!r}", 404)
    return job


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Created,
    responses=error_responses(400, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": 'a JobSpec; or {"preset": NAME, …} with the fields that change the preset '
            "(mappings merged key by key; GET /v1/presets)",
            "content": {"application/json": JOB_SPEC_BODY, "application/yaml": JOB_SPEC_BODY},
        }
    },
)
async def submit_job(request: Request, team: TeamDep, settings: SettingsDep) -> Created:
    """A JobSpec as JSON, or as YAML with ``Content-Type: application/yaml``; ``{"preset": NAME, …}``
    starts from a preset. The dataset, limits and warm-start jobs are checked before queueing.
    The caller is known before the body is read; the body is read up to ``max_spec_bytes`` (413
    past it) and parsed and checked on the thread pool (opening a dataset decodes its images)."""
    body = await read_body(request, settings.max_spec_bytes)
    content_type = request.headers.get("content-type", "")
    factory = request.app.state.session_factory
    return await run_in_threadpool(_queue_job, factory, body, content_type, team, settings)


def _queue_job(
    factory: sessionmaker[Session], body: bytes, content_type: str, team: Caller, settings: Settings
) -> Created:
    with factory() as session:
        return _add_job(session, validated_spec(body, content_type, session, team, settings), team)


def _add_job(session: Session, spec: JobSpec, team: Caller) -> Created:
    job = Job(
        id=uuid.uuid4().hex,
        team_id=team.id,
        name=spec.name,
        status=JobState.QUEUED,
        spec=spec.model_dump(mode="json"),
        created_by=team.name,
        trials_total=spec.budget.max_trials,
        front=[],
        hypervolume_history=[],
    )
    session.add(job)
    session.commit()
    return Created(id=job.id)


@router.get("", response_model=JobList)
def list_jobs(
    session: SessionDep,
    team: TeamDep,
    status_filter: Annotated[JobState | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JobList:
    query = select(Job).where(Job.team_id == team.id)
    if status_filter is not None:
        query = query.where(Job.status == status_filter)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    jobs = session.scalars(query.order_by(Job.created_at.desc()).limit(limit).offset(offset)).all()
    best = best_aps(session, [job.id for job in jobs])
    items = [JobOut.model_validate(job).model_copy(update={"best_ap": best.get(job.id)}) for job in jobs]
    return JobList(items=items, total=total, limit=limit, offset=offset)


def best_aps(session: SessionDep, job_ids: list[str]) -> dict[str, float]:
    """Each job's best AP among its measured trials (one grouped query)."""
    if not job_ids:
        return {}
    rows = session.execute(
        select(TrialRecord.job_id, func.max(TrialRecord.ap))
        .where(TrialRecord.job_id.in_(job_ids), TrialRecord.status.in_(("completed", "stopped")))
        .group_by(TrialRecord.job_id)
    )
    return {job_id: float(ap) for job_id, ap in rows if ap is not None}


@router.get("/{job_id}", response_model=JobStatus, responses=OWNED_JOB_RESPONSES)
def get_job(job_id: str, session: SessionDep, team: TeamDep, settings: SettingsDep) -> JobStatus:
    job = owned_job(session, team, job_id)
    out = JobOut.model_validate(job).model_copy(update={"best_ap": best_aps(session, [job.id]).get(job.id)})
    spec = JobSpec.model_validate(job.spec)
    budget = spec.budget.max_trial_epochs or spec.budget.max_trials * spec.budget.epochs_per_trial
    progress = job.trials_finished / job.trials_total if job.trials_total else 0.0
    screened = screened_count(job_folder(settings, job.id))
    predictor = LatencyPredictorOut(**predictor_summary(_predicted_trials(session, job.id), screened))
    return JobStatus(
        **out.model_dump(),
        progress=progress,
        budget_epochs=budget,
        latency_predictor=predictor,
        waiting=waiting_reason(session, settings, job),
    )


def _predicted_trials(session: Session, job_id: str) -> list[SearchTrial]:
    """The job's trials, with what ``predictor_summary`` reads of them."""
    rows = session.execute(
        select(
            TrialRecord.trial_id,
            TrialRecord.status,
            TrialRecord.error,
            TrialRecord.latency_ms,
            TrialRecord.latency_predicted_ms,
        ).where(TrialRecord.job_id == job_id, TrialRecord.latency_predicted_ms.is_not(None))
    )
    return [
        SearchTrial(
            trial_id=row.trial_id,
            status=row.status,
            point={},
            error=row.error,
            latency_ms=row.latency_ms,
            latency_predicted_ms=row.latency_predicted_ms,
        )
        for row in rows
    ]


@router.post("/{job_id}/cancel", response_model=JobOut, responses=STATE_CHANGE_RESPONSES)
def cancel_job(job_id: str, session: SessionDep, team: TeamDep) -> JobOut:
    job = owned_job(session, team, job_id)
    if job.status == JobState.QUEUED:
        job.status, job.finished_at = JobState.CANCELLED, utcnow()
        end_job(session, job)  # no runner will: its job_ended event, in the same commit
    elif job.status == JobState.RUNNING:
        job.cancel_requested = True  # the runner stops its search and marks the job cancelled
    else:
        raise FieldError("status", f"a {job.status} job cannot be cancelled", 409)
    session.commit()
    return JobOut.model_validate(job)


@router.post("/{job_id}/resume", response_model=JobOut, responses=STATE_CHANGE_RESPONSES)
def resume_job(job_id: str, session: SessionDep, team: TeamDep) -> JobOut:
    """Queue a failed or cancelled job again; it continues from its search state."""
    job = owned_job(session, team, job_id)
    if job.status not in RESUMABLE_STATES:
        raise FieldError("status", f"only failed or cancelled jobs resume; this one is {job.status}", 409)
    job.status, job.error, job.cancel_requested, job.resume_requested = JobState.QUEUED, None, False, True
    job.finished_at = None
    session.commit()
    return JobOut.model_validate(job)


@router.post(
    "/{job_id}/extend",
    response_model=JobOut,
    responses=error_responses(400, 404, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component_ref(ExtendIn)}},
        }
    },
)
async def extend_job(job_id: str, request: Request, team: TeamDep, settings: SettingsDep) -> JobOut:
    """Give a finished job more budget: its search goes on from its saved state — the same
    searcher (what it learned), scheduler and weights — and trains the added trials. A job can be
    extended any number of times; a failed or cancelled one also resumes what it left unfinished."""
    extension = parse_model_body(await read_body(request, settings.max_spec_bytes), ExtendIn)
    factory = request.app.state.session_factory
    return await run_in_threadpool(_extend, factory, team, job_id, extension, settings)


def _extend(
    factory: sessionmaker[Session], team: Caller, job_id: str, extension: ExtendIn, settings: Settings
) -> JobOut:
    with factory() as session:
        job = owned_job(session, team, job_id)
        if job.status not in FINISHED_STATES:
            raise FieldError("status", f"only a finished job is extended; this one is {job.status}", 409)
        spec = JobSpec.model_validate(job.spec)
        budget = {"max_trials": spec.budget.max_trials + extension.trials}
        if extension.trial_epochs is not None:
            if spec.budget.max_trial_epochs is None:
                raise FieldError(
                    "trial_epochs", "the job's budget counts trials only (no budget.max_trial_epochs)"
                )
            budget["max_trial_epochs"] = spec.budget.max_trial_epochs + extension.trial_epochs
        try:
            extended = spec.with_changes(budget={**spec.budget.model_dump(), **budget})
        except ValidationError as error:  # the sums past the budget's bounds
            field = (
                "trial_epochs"
                if "max_trial_epochs" in budget and "max_trial_epochs" in str(error)
                else "trials"
            )
            raise FieldError(
                field, f"the extended budget is out of bounds: {error.errors()[0]['msg']}"
            ) from None
        check_limits(extended, settings)
        job.spec = extended.model_dump(mode="json")
        job.trials_total = extended.budget.max_trials
        job.status, job.error, job.cancel_requested, job.resume_requested = JobState.QUEUED, None, False, True
        job.finished_at = None
        session.commit()
        return JobOut.model_validate(job)
