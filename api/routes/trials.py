"""A job's trials (paginated, sortable), its Pareto front, trial exports, and results imported
into it from outside."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller
from api.body import parse_model_body, read_body
from api.cache import cached_json
from api.db.models import Job, TrialRecord
from api.deps import SessionDep, SettingsDep, TeamDep
from api.errors import MAX_OFFSET, FieldError, error_responses
from api.exports import export_stored_trial
from api.known_results import imported_trial, stored_row
from api.openapi import component_ref
from api.routes.jobs import owned_job
from api.routing import SessionReleasingRoute
from api.runner import DatabaseWriter
from api.schemas import ImportIn, ImportOut, Pareto, TrialList, TrialOut
from api.settings import Settings
from search_spaces import JobSpec
from workers.api import MEASURED_STATUSES, TrialOrigin, TrialStatus

router = APIRouter(prefix="/v1/jobs/{job_id}", tags=["trials"], route_class=SessionReleasingRoute)
SORTABLE = (
    "ap",
    "ap50",
    "fitness",
    "latency_ms",
    "latency_nms_ms",
    "params",
    "gflops",
    "epochs",
    "finished_at",
)
SortKey = Literal[(*SORTABLE, *(f"-{key}" for key in SORTABLE))]  # a metric; '-' first: descending
ETAG_HEADER = {"ETag": {"description": "the job's version", "required": True, "schema": {"type": "string"}}}
# the job's read routes: 304 while the client holds the job's current version (If-None-Match)
CACHED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": ETAG_HEADER},
    304: {"description": "Unchanged since the version in If-None-Match", "headers": ETAG_HEADER},
    **error_responses(404),
}


@router.get("/trials", response_model=TrialList, responses=CACHED_RESPONSES)
def list_trials(
    request: Request,
    job_id: str,
    session: SessionDep,
    team: TeamDep,
    sort: Annotated[SortKey, Query(description="a metric; prefix '-' for descending")] = "finished_at",
    status: Annotated[TrialStatus | None, Query(description="only trials with this status")] = None,
    history: Annotated[bool, Query(description="include each trial's per-epoch history")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """ETag / If-None-Match → 304 while the job is unchanged."""
    column = getattr(TrialRecord, sort.removeprefix("-"))

    def build(_: Job) -> TrialList:
        query = select(TrialRecord).where(TrialRecord.job_id == job_id)
        if status is not None:
            query = query.where(TrialRecord.status == status)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        order = column.desc() if sort.startswith("-") else column.asc()
        rows = session.scalars(
            query.order_by(order.nulls_last(), TrialRecord.id).limit(limit).offset(offset)
        ).all()
        items = [TrialOut.model_validate(row) for row in rows]
        if not history:
            items = [item.model_copy(update={"history": ()}) for item in items]
        return TrialList(items=items, total=total, limit=limit, offset=offset)

    return cached_json(request, session, team, job_id, "trials", build)


@router.get("/pareto", response_model=Pareto, responses=CACHED_RESPONSES)
def pareto(request: Request, job_id: str, session: SessionDep, team: TeamDep) -> Response:
    """Lean on purpose (dashboards poll it): every measured point as a few numbers, full records
    only for the front and the infeasible candidates. ETag / If-None-Match → 304."""
    return cached_json(request, session, team, job_id, "pareto", lambda job: _pareto(session, job))


def _pareto(session: SessionDep, job: Job) -> Pareto:
    job_id = job.id
    front = set(job.front or [])
    columns = (
        TrialRecord.trial_id,
        TrialRecord.status,
        TrialRecord.ap,
        TrialRecord.ap50,
        TrialRecord.latency_ms,
        TrialRecord.latency_nms_ms,
        TrialRecord.params,
        TrialRecord.gflops,
        TrialRecord.image_size,
        TrialRecord.point,
    )
    rows = session.execute(
        select(*columns).where(
            TrialRecord.job_id == job_id, TrialRecord.status.in_(sorted(MEASURED_STATUSES))
        )
    )
    points = [
        {**row._asdict(), "on_front": row.trial_id in front} for row in rows if row.latency_ms is not None
    ]
    detailed = session.scalars(
        select(TrialRecord).where(
            TrialRecord.job_id == job_id,
            or_(TrialRecord.trial_id.in_(front), TrialRecord.status == TrialStatus.INFEASIBLE),
        )
    ).all()
    by_id = {row.trial_id: row for row in detailed}
    return Pareto(
        front=[TrialOut.model_validate(by_id[trial_id]) for trial_id in job.front if trial_id in by_id],
        infeasible=[TrialOut.model_validate(row) for row in detailed if row.status == TrialStatus.INFEASIBLE],
        points=points,
        hypervolume=job.hypervolume,
        hypervolume_history=list(job.hypervolume_history or []),
    )


@router.get("/trials/{trial_id}", response_model=TrialOut, responses=error_responses(404))
def get_trial(job_id: str, trial_id: str, session: SessionDep, team: TeamDep) -> TrialOut:
    """One trial with its per-epoch history (learning curves)."""
    owned_job(session, team, job_id)
    return TrialOut.model_validate(_trial_row(session, job_id, trial_id))


def _trial_row(session: SessionDep, job_id: str, trial_id: str) -> TrialRecord:
    row = session.scalar(
        select(TrialRecord).where(TrialRecord.job_id == job_id, TrialRecord.trial_id == trial_id)
    )
    if row is None:
        raise FieldError("trial_id", f"no trial {trial_id!r} in job {job_id}", 404)
    return row


@router.get(
    "/trials/{trial_id}/export",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 409, 410),
    },
)
def export(
    job_id: str, trial_id: str, session: SessionDep, team: TeamDep, background: BackgroundTasks
) -> FileResponse:
    """A zip: model.yaml, hyp.yaml, point.json, metrics.json, weights.pt, model.onnx, README.txt."""
    from workers.api import MissingCheckpointError, zip_export

    job = owned_job(session, team, job_id)
    row = _trial_row(session, job_id, trial_id)
    if row.status not in MEASURED_STATUSES:
        raise FieldError("trial_id", f"trial {trial_id} is {row.status}: nothing to export", 409)
    folder = Path(tempfile.mkdtemp(prefix="scaler-export-"))
    try:
        export_stored_trial(job, row, folder / "export")
    except MissingCheckpointError as error:
        _remove(folder)
        raise FieldError("trial_id", f"trial {trial_id}: {error}", 410) from error
    except (RuntimeError, ValueError) as error:  # an imported trial's weights that fit no network
        _remove(folder)
        if TrialOrigin(row.origin).trained:
            raise
        reason = str(error).strip().splitlines()[0][:300]
        raise FieldError("trial_id", f"trial {trial_id}: its weights do not load: {reason}", 409) from error
    archive = zip_export(folder / "export", folder / f"{job_id}-{trial_id}.zip")
    background.add_task(_remove, folder)
    return FileResponse(archive, media_type="application/zip", filename=archive.name)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@router.post(
    "/trials/import",
    status_code=201,
    response_model=ImportOut,
    responses=error_responses(403, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component_ref(ImportIn)}},
        }
    },
)
async def import_trials(job_id: str, request: Request, team: TeamDep, settings: SettingsDep) -> ImportOut:
    """Results measured outside the job (another run; at most 1000 a request): each joins its
    trials as ``origin: imported`` and its front and hypervolume at once, whatever the job's state,
    and its searcher learns them, untrained, when its search starts, resumes or is extended. Each
    is checked first, an error naming it (``trials[3].point.width_multiple``): its point within
    the job's space, its latency timed on the job's latency device, its weights (optional) inside
    the data roots and readable as weights of the point's family."""
    results = parse_model_body(await read_body(request, settings.max_spec_bytes), ImportIn)
    factory = request.app.state.session_factory
    return await run_in_threadpool(_import, factory, team, job_id, results, settings)


def _import(
    factory: sessionmaker[Session], team: Caller, job_id: str, results: ImportIn, settings: Settings
) -> ImportOut:
    with factory() as session:
        spec = JobSpec.model_validate(owned_job(session, team, job_id).spec)
    # checked apart from the session: reading weights takes a while
    trials = [
        imported_trial(f"trials[{index}]", entry, spec, settings)
        for index, entry in enumerate(results.trials)
    ]
    with factory() as session:
        job = owned_job(session, team, job_id)
        session.add_all(stored_row(job_id, trial) for trial in trials)
        DatabaseWriter(factory, job_id, spec).refresh_job(session)  # commits
        return ImportOut(
            trial_ids=[trial.trial_id for trial in trials],
            front=list(job.front or []),
            hypervolume=job.hypervolume,
        )
