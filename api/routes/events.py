"""``GET /v1/jobs/{id}/events``: a job's events (``api.events``), live as Server-Sent Events for a
client that accepts ``text/event-stream``, else as a JSON page of those stored.

The stream sends every stored event after the client's last one (``Last-Event-ID``, or
``?last_event_id=`` for a client that cannot set headers), then each new one as the runner writes
it, found by reading the table every ``POLL_SECONDS`` on a worker thread (a read takes a pooled
connection and hands it back: an open stream holds none). A comment line every
``KEEP_ALIVE_SECONDS`` keeps proxies from closing a quiet stream. It ends once the job has ended
and its events are sent, after ``STREAM_SECONDS`` (the client reconnects with its last id, and its
token is checked again), or as the server starts to stop (``api.serving.serve``)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller
from api.db.models import Job
from api.deps import TeamDep
from api.errors import FieldError, error_responses
from api.events import MAX_EVENT_ID, EventList, events_after, sse_message

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
EVENT_STREAM = "text/event-stream"
POLL_SECONDS = 0.5
KEEP_ALIVE_SECONDS = 15.0
STREAM_SECONDS = 600.0
RETRY_MILLISECONDS = 2000  # how long an EventSource waits before it reconnects
PAGE = 200  # events read at once
STREAM_DESCRIPTION = (
    "with `Accept: text/event-stream`: Server-Sent Events, one per event (`id`: its id, `event`: its "
    "kind, `data`: the EventOut as JSON), ending once the job has ended"
)


def _owned(factory: sessionmaker[Session], team: Caller, job_id: str) -> None:
    with factory() as session:
        job = session.get(Job, job_id)
        owner = None if job is None else job.team_id
    if owner != team.id:  # another team's job does not exist for you
        raise FieldError("job_id", f"no job {job_id!r}", 404)


def _page(factory: sessionmaker[Session], job_id: str, after: int, limit: int) -> EventList:
    with factory() as session:
        return events_after(session, job_id, after, limit)


async def _stream(
    factory: sessionmaker[Session], job_id: str, after: int, stopping: threading.Event
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
    started = quiet_since = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS and not stopping.is_set():
        page = await anyio.to_thread.run_sync(_page, factory, job_id, after, PAGE)
        for event in page.items:
            yield sse_message(event)
            after = event.id
        if page.finished:
            return
        if page.items:
            quiet_since = time.monotonic()
            if len(page.items) == PAGE:
                continue  # more are stored: no wait
        elif time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(POLL_SECONDS)


@router.get(
    "/{job_id}/events",
    response_model=EventList,
    responses={
        **error_responses(404),
        200: {
            "description": "the job's events after the last one the client saw, oldest first",
            "content": {EVENT_STREAM: {"schema": {"type": "string", "description": STREAM_DESCRIPTION}}},
        },
    },
)
async def job_events(
    job_id: str,
    request: Request,
    team: TeamDep,
    last_event_id: Annotated[
        int, Query(ge=0, le=MAX_EVENT_ID, description="the last event seen (for clients without headers)")
    ] = 0,
    last_event_id_header: Annotated[
        int, Header(alias="Last-Event-ID", ge=0, le=MAX_EVENT_ID, description="the last event seen")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="events on a JSON page")] = 500,
) -> EventList | StreamingResponse:
    """The job's events after the last one the client saw (``Last-Event-ID`` or ``last_event_id``:
    the later of the two; none: from the first). A client that accepts ``text/event-stream`` gets them
    live as Server-Sent Events until the job ends; any other gets a JSON page of those stored
    (``finished``: the job has ended and the page holds its last events)."""
    factory = request.app.state.session_factory
    await run_in_threadpool(_owned, factory, team, job_id)
    after = max(last_event_id_header, last_event_id)
    if EVENT_STREAM not in request.headers.get("accept", ""):
        return await run_in_threadpool(_page, factory, job_id, after, limit)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering either
    stream = _stream(factory, job_id, after, request.app.state.stopping)
    return StreamingResponse(stream, media_type=EVENT_STREAM, headers=headers)
