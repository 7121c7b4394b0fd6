"""Serialised responses of a job's read routes, keyed by the job's data version (an ETag), so
polling clients get 304s and concurrent readers of an unchanged job share one serialisation."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Job, TrialRecord


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


def job_version(session: Session, job: Job) -> str:
    """Changes whenever the job or any of its trials changes."""
    count, latest = session.execute(
        select(func.count(), func.max(TrialRecord.updated_at)).where(TrialRecord.job_id == job.id)
    ).one()
    front = len(job.front or [])
    state = f"{job.id}|{job.status}|{job.trials_finished}|{job.hypervolume}|{front}|{count}|{latest}"
    return hashlib.sha256(state.encode()).hexdigest()[:20]


def cached_json(
    request: Request, session: Session, job: Job, route: str, build: Callable[[], BaseModel]
) -> Response:
    """304 when the client already holds this version, else the (cached) serialised body."""
    etag = f'"{job_version(session, job)}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    cache: ResponseCache = request.app.state.response_cache
    key = (route, job.id, etag, str(request.url.query))
    body = cache.get_or_build(key, lambda: build().model_dump_json().encode())
    return Response(content=body, media_type="application/json", headers=headers)
