"""Compute used by the caller's team: device-hours (wall time × devices held by each trial),
split into GPU-hours and CPU-hours and by job status."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from api.db.models import Job, TrialRecord
from api.deps import SessionDep, TeamDep
from api.routing import SessionReleasingRoute
from api.schemas import Usage
from workers.api import TrialOrigin

router = APIRouter(prefix="/v1/usage", tags=["usage"], route_class=SessionReleasingRoute)


@router.get("", response_model=Usage)
def team_usage(session: SessionDep, team: TeamDep) -> Usage:
    gpu_hours = cpu_hours = 0.0
    by_status: dict[str, float] = {}
    jobs = session.execute(select(Job.status, Job.device_hours, Job.spec).where(Job.team_id == team.id)).all()
    for status, hours, spec in jobs:
        hours = float(hours or 0.0)
        if float((spec or {}).get("budget", {}).get("gpus_per_trial") or 0) > 0:
            gpu_hours += hours
        else:
            cpu_hours += hours
        by_status[status] = by_status.get(status, 0.0) + hours
    trials = session.scalar(  # those the team's jobs trained (not the results imported into them)
        select(func.count())
        .select_from(TrialRecord)
        .join(Job)
        .where(Job.team_id == team.id, TrialRecord.origin == TrialOrigin.SEARCHED)
    )
    return Usage(
        team=team.name,
        jobs=len(jobs),
        trials=trials or 0,
        gpu_hours=gpu_hours,
        cpu_hours=cpu_hours,
        device_hours_by_status=by_status,
    )
