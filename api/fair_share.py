"""Fair share between teams: which queued job the scheduler takes next, why a queued job waits,
and how many jobs share the cluster when one starts.

Each team may have ``Settings.team_max_jobs_of(team)`` jobs running at once (None: no limit of
its own) and has a priority (``team_priority_of``, default 0). The next job is the oldest queued
job of the team that, among the teams below their limit, has the highest priority, then the
fewest running jobs, then the oldest queued job: teams of one priority take turns instead of the
first to submit taking every slot, and a team at its limit holds up no other team."""

from __future__ import annotations

import datetime as dt
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Job, Team
from api.job_states import JobState
from api.settings import Settings

# the runner's environment: the jobs sharing the cluster when it starts, itself included
JOBS_SHARING_VARIABLE = "SCALER_JOBS_SHARING"


@dataclass(frozen=True)
class TeamPolicy:
    name: str
    max_jobs: int | None  # running at once; None: no limit of its own
    priority: int

    def at_limit(self, running: int) -> bool:
        return self.max_jobs is not None and running >= self.max_jobs


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    team_id: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Queue:
    """What the claim order is decided from: the queued jobs (oldest first), the jobs running
    per team and each team's policy."""

    queued: Sequence[QueuedJob]
    running: Mapping[int, int]
    policies: Mapping[int, TeamPolicy]

    def order(self) -> list[QueuedJob]:
        """The queued jobs in the order the scheduler takes them, each taken job counting as
        running for its team; a job whose team would be at its limit by then is left out."""
        waiting: dict[int, deque[QueuedJob]] = {}
        for job in sorted(self.queued, key=lambda job: (job.created_at, job.job_id)):
            waiting.setdefault(job.team_id, deque()).append(job)
        running = {team_id: self.running.get(team_id, 0) for team_id in waiting}
        taken: list[QueuedJob] = []
        while True:
            open_teams = [
                team_id
                for team_id, jobs in waiting.items()
                if jobs and not self.policies[team_id].at_limit(running[team_id])
            ]
            if not open_teams:
                return taken
            team_id = min(
                open_teams,
                key=lambda team: (
                    -self.policies[team].priority,
                    running[team],
                    waiting[team][0].created_at,
                    waiting[team][0].job_id,
                ),
            )
            taken.append(waiting[team_id].popleft())
            running[team_id] += 1


def read_queue(session: Session, settings: Settings) -> Queue:
    queued = [
        QueuedJob(job_id, team_id, created_at)
        for job_id, team_id, created_at in session.execute(
            select(Job.id, Job.team_id, Job.created_at).where(Job.status == JobState.QUEUED)
        )
    ]
    running = dict(
        session.execute(
            select(Job.team_id, func.count()).where(Job.status == JobState.RUNNING).group_by(Job.team_id)
        ).all()
    )
    team_ids = {job.team_id for job in queued} | set(running)
    names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
    policies = {team_id: policy_of(settings, name) for team_id, name in names.items()}
    return Queue(queued, running, policies)


def policy_of(settings: Settings, team: str) -> TeamPolicy:
    return TeamPolicy(team, settings.team_max_jobs_of(team), settings.team_priority_of(team))


def waiting_reason(session: Session, settings: Settings, job: Job) -> str | None:
    """Why a queued job has not started (None for a job that is not queued)."""
    if job.status != JobState.QUEUED:
        return None
    queue = read_queue(session, settings)
    policy = queue.policies[job.team_id]
    running = queue.running.get(job.team_id, 0)
    if policy.at_limit(running):
        return f"team limit reached: {running} of the team's {policy.max_jobs} jobs at once are running"
    order = [queued.job_id for queued in queue.order()]
    total = sum(queue.running.values())
    busy = f"{total} job{'s' if total != 1 else ''} running"
    if job.id not in order:  # the team's earlier queued jobs fill its limit first
        return f"team limit: the team's older queued jobs start first ({busy})"
    ahead = order.index(job.id)
    if ahead == 0:
        return f"next to start, when a scheduler has a free slot ({busy})"
    return f"{ahead} queued job{'s' if ahead != 1 else ''} start first ({busy})"


def jobs_sharing(session: Session, settings: Settings, own_running: int, free_slots: int) -> int:
    """The jobs that share the cluster with a job starting now, itself included: the jobs running
    there (with a cluster address, every running job of the service; else the ones this scheduler
    runs on this machine, ``own_running``, the new one included) plus the queued jobs this
    scheduler is about to start in its ``free_slots`` (so that jobs submitted together split the
    cluster from the start, the first not taking it all)."""
    if settings.ray_address:
        running = session.scalar(select(func.count()).where(Job.status == JobState.RUNNING)) or 0
    else:
        running = own_running
    coming = len(read_queue(session, settings).order()[: max(0, free_slots)])
    return max(1, running + coming)


def jobs_sharing_from_environment() -> int:
    """What the scheduler told the runner (``JOBS_SHARING_VARIABLE``); 1 when it says nothing (a
    runner started by hand has the cluster to itself)."""
    text = os.environ.get(JOBS_SHARING_VARIABLE, "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{JOBS_SHARING_VARIABLE}: a whole number of jobs ≥ 1, got {text!r}")
    return int(text)
