"""A job's webhook (``notify.webhook`` of its spec): when the job ends, its runner POSTs the job's
end as JSON to the URL (``job_ended``'s payload with the job's id and name), retrying a failed
attempt (no answer, or one that is not 2xx) after 1, 2 and 4 seconds. Each attempt is logged and
kept as a ``webhook_called`` event of the job; a hook that never answers leaves the job as it ended.

Each attempt resolves the hook's host again and calls it only if every address it resolves to is
public or allowed (``api/webhook_targets.py``; a refused hook is not tried again), then connects
only to those addresses (``PinnedBackend``): a name that resolves elsewhere by the time the
connection is made cannot redirect it. No redirect is followed, no proxy is used, an attempt ends
after ``ATTEMPT_SECONDS`` whatever the hook does, and only the answer's status line and headers are
read (at most httpcore's 100 kB)."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.events import ERROR_CHARACTERS, JobEnded, WebhookCalled, add_event
from api.webhook_targets import (
    AllowedHosts,
    Resolver,
    UnresolvedWebhookError,
    WebhookTarget,
    WebhookTargetError,
    system_resolve,
    webhook_target,
)

LOGGER = logging.getLogger(__name__)
ATTEMPTS = 4
FIRST_WAIT_SECONDS = 1.0  # before the second attempt; doubled before each later one
TIMEOUT_SECONDS = 10.0  # per attempt: to connect, and between bytes of the answer
ATTEMPT_SECONDS = 30.0  # per attempt, all told: a hook that answers a byte at a time is cut off
USER_AGENT = "scaler-webhook"


@dataclass(frozen=True)
class Attempt:
    number: int
    status_code: int | None  # the hook's answer; None when none came
    error: str | None
    refused: bool = False  # not called: its host is not allowed (trying again would not change that)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_body(job_id: str, name: str, ended: JobEnded) -> dict[str, Any]:
    """What the hook receives: the job's id and name, and how it ended."""
    return {"job_id": job_id, "name": name, **ended.model_dump(mode="json")}


def request_headers(target: WebhookTarget) -> list[tuple[bytes, bytes]]:
    """JSON from Scaler; a URL's ``user:password@`` as Basic authentication (as httpx sends it)."""
    import httpx

    headers = [(b"Content-Type", b"application/json"), (b"User-Agent", USER_AGENT.encode())]
    parsed = httpx.URL(target.url)
    if parsed.userinfo:
        credentials = base64.b64encode(f"{parsed.username}:{parsed.password}".encode())
        headers.append((b"Authorization", b"Basic " + credentials))
    return headers


def post_once(
    url: str, body: dict[str, Any], number: int, allowed: AllowedHosts, resolve: Resolver = system_resolve
) -> Attempt:
    """One attempt: check where ``url`` leads (``webhook_target``), then POST ``body`` there."""
    from api.webhook_connection import CONNECTION_ERRORS, post_status

    try:
        target = webhook_target(url, allowed, resolve)
    except WebhookTargetError as error:
        return Attempt(number, None, f"refused: {error}"[:ERROR_CHARACTERS], refused=True)
    except UnresolvedWebhookError as error:
        return Attempt(number, None, str(error)[:ERROR_CHARACTERS])
    content = json.dumps(body).encode()
    deadline = time.monotonic() + ATTEMPT_SECONDS
    try:
        status = post_status(
            target.url, target.addresses, request_headers(target), content, TIMEOUT_SECONDS, deadline
        )
    except CONNECTION_ERRORS as error:
        return Attempt(number, None, f"{type(error).__name__}: {error}"[:ERROR_CHARACTERS])
    return Attempt(number, status, None if 200 <= status < 300 else f"HTTP {status}")


def deliver(
    url: str,
    body: dict[str, Any],
    on_attempt: Callable[[Attempt], None],
    allowed: AllowedHosts,
    attempts: int = ATTEMPTS,
    first_wait: float = FIRST_WAIT_SECONDS,
    resolve: Resolver = system_resolve,
) -> bool:
    """POST ``body`` to ``url`` until an attempt is delivered, is refused (its host not allowed) or
    ``attempts`` have failed, waiting ``first_wait`` seconds, then twice as long each time, between
    them; ``on_attempt`` hears of each. Whether it was delivered."""
    for number in range(1, attempts + 1):
        attempt = post_once(url, body, number, allowed, resolve)
        on_attempt(attempt)
        if attempt.delivered or attempt.refused:
            return attempt.delivered
        if number < attempts:
            time.sleep(first_wait * 2 ** (number - 1))
    return False


def notify_job_end(
    factory: sessionmaker[Session], job_id: str, url: str, body: dict[str, Any], allowed: AllowedHosts
) -> bool:
    """Call the job's webhook with ``body`` (``webhook_body``) where ``allowed`` lets it, logging
    each attempt and storing it as a ``webhook_called`` event; never raises. Whether the hook took it."""

    def record(attempt: Attempt) -> None:
        if attempt.delivered:
            LOGGER.info("job %s: webhook delivered (attempt %d)", job_id, attempt.number)
        else:
            LOGGER.warning("job %s: webhook attempt %d failed: %s", job_id, attempt.number, attempt.error)
        called = WebhookCalled(
            attempt=attempt.number,
            delivered=attempt.delivered,
            status_code=attempt.status_code,
            error=attempt.error,
        )
        try:
            with factory() as session:
                add_event(session, job_id, called)
                session.commit()
        except Exception:  # the database is away: the log keeps the attempt
            LOGGER.exception("job %s: could not store the webhook attempt", job_id)

    try:
        return deliver(url, body, record, allowed)
    except Exception:
        LOGGER.exception("job %s: the webhook could not be called", job_id)
        return False
