"""A job's live events (``GET /v1/jobs/{id}/events`` as Server-Sent Events) read with httpx: what
``scaler watch`` and ``scaler demo`` follow a job by, instead of asking for its status every few
seconds. The stream is read again from the last event seen (``Last-Event-ID``) when the server ends
it before the job's end; a stream that cannot be had (an older server, a proxy that refuses it)
raises ``StreamUnavailableError`` and the caller polls instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

EVENT_STREAM = "text/event-stream"
JOB_ENDED = "job_ended"  # api.events.EventKind.JOB_ENDED (not imported: the CLI stays light)
READ_SECONDS = 60.0  # the server sends a keep-alive comment every 15 s of quiet
RECONNECTS = 20  # ends of the stream before the job's end, in a row without an event, then polling


class StreamUnavailableError(Exception):
    """The server did not stream the job's events."""


@dataclass(frozen=True)
class JobEvent:
    id: int
    kind: str
    payload: dict[str, Any]


def parse_stream(lines: Iterator[str]) -> Iterator[JobEvent]:
    """The events of an SSE stream's lines (``id``/``event``/``data`` fields, a blank line ends
    one; comments and ``retry`` are skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                data = json.loads(fields["data"])
                yield JobEvent(
                    int(fields.get("id", data["id"])), fields.get("event", data["kind"]), data["payload"]
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name == "data" and "data" in fields else value


def stream_once(http: httpx.Client, job_id: str, after: int) -> Iterator[JobEvent | None]:
    """One connection's events after id ``after`` (None: a keep-alive), until the server ends it."""
    import httpx

    headers = {"Accept": EVENT_STREAM, "Last-Event-ID": str(after)}
    timeout = httpx.Timeout(30.0, read=READ_SECONDS)
    with http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=timeout) as response:
        content_type = response.headers.get("content-type", "")
        if response.status_code != 200 or not content_type.startswith(EVENT_STREAM):
            raise StreamUnavailableError(f"HTTP {response.status_code} {content_type}")
        yield from parse_stream(response.iter_lines())


def job_events(http: httpx.Client, job_id: str, after: int = 0) -> Iterator[JobEvent | None]:
    """The job's events after id ``after`` until its ``job_ended`` (None: all is quiet), over as
    many connections as that takes. Raises StreamUnavailableError (or an httpx error) when the
    stream cannot be had."""
    quiet = 0
    while quiet < RECONNECTS:
        quiet += 1
        for event in stream_once(http, job_id, after):
            yield event
            if event is None:
                continue
            after, quiet = event.id, 0
            if event.kind == JOB_ENDED:
                return
    raise StreamUnavailableError(f"the stream ended {RECONNECTS} times without an event")
