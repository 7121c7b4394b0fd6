"""Every change to a job or to one of its trials bumps ``jobs.version`` in the same transaction,
so that a read route knows with one indexed lookup whether its cached body is still current."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from api.db.models import Job, TrialRecord

QUIET = frozenset({"heartbeat_at", "version", "claimed_by"})  # liveness, not content


def _content_changed(job: Job) -> bool:
    state = inspect(job)
    return any(attribute.history.has_changes() for attribute in state.attrs if attribute.key not in QUIET)


def changed_jobs(session: Session) -> set[str]:
    """Ids of the jobs whose content this flush changes (new and dirty objects, pre-flush)."""
    job_ids: set[str] = set()
    for item in (*session.new, *session.dirty):
        if isinstance(item, TrialRecord) and item.job_id:
            job_ids.add(item.job_id)
        elif isinstance(item, Job) and item.id and (item in session.new or _content_changed(item)):
            job_ids.add(item.id)
    return job_ids


def bump_versions(session: Session, _flush_context: Any) -> None:
    """An ``after_flush`` listener (registered by ``make_session_factory``)."""
    job_ids = changed_jobs(session)
    if job_ids:
        session.connection().execute(
            update(Job).where(Job.id.in_(sorted(job_ids))).values(version=Job.version + 1)
        )
