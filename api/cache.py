"""Serialised responses of a job's read routes, keyed by the job's version (its ETag), so that
polling clients get 304s and concurrent readers of an unchanged job share one serialisation.
The fast path is one indexed lookup of (team, version); the job row is loaded only to build."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Caller
from api.db.models import Job
from api.errors import FieldError


class ResponseCache:
    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> bytes:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        body = build()
        with self.lock:
            self.entries[key] = body
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return body


def job_etag(session: Session, team: Caller, job_id: str) -> str:
    """The job's current ETag; 404 for a missing job or another team's."""
    row = session.execute(select(Job.team_id, Job.version).where(Job.id == job_id)).first()
    if row is None or row.team_id != team.id:
        raise FieldError("job_id", f"no job {job_id!r}", 404)
    return f'"{job_id}-{row.version}"'


def cached_json(
    request: Request,
    session: Session,
    team: Caller,
    job_id: str,
    route: str,
    build: Callable[[Job], BaseModel],
) -> Response:
    """304 when the client already holds this version, else the (cached) serialised body."""
    etag = job_etag(session, team, job_id)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    cache: ResponseCache = request.app.state.response_cache

    def serialise() -> bytes:
        job = session.get(Job, job_id)
        assert job is not None
        return build(job).model_dump_json().encode()

    body = cache.get_or_build((route, job_id, etag, str(request.url.query)), serialise)
    return Response(content=body, media_type="application/json", headers=headers)
