"""A job's webhook (``notify.webhook`` of its spec): when the job ends, its runner POSTs the job's
end as JSON to the URL (``job_ended``'s payload with the job's id and name), retrying a failed
attempt (no answer, or one that is not 2xx) after 1, 2 and 4 seconds. Each attempt is logged and
kept as a ``webhook_called`` event of the job; a hook that never answers leaves the job as it ended."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.events import ERROR_CHARACTERS, JobEnded, WebhookCalled, add_event

LOGGER = logging.getLogger(__name__)
ATTEMPTS = 4
FIRST_WAIT_SECONDS = 1.0  # before the second attempt; doubled before each later one
TIMEOUT_SECONDS = 10.0  # per attempt: to connect, and between bytes of the answer
USER_AGENT = "scaler-webhook"


@dataclass(frozen=True)
class Attempt:
    number: int
    status_code: int | None  # the hook's answer; None when none came
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_body(job_id: str, name: str, ended: JobEnded) -> dict[str, Any]:
    """What the hook receives: the job's id and name, and how it ended."""
    return {"job_id": job_id, "name": name, **ended.model_dump(mode="json")}


def post_once(url: str, body: dict[str, Any], number: int) -> Attempt:
    import httpx

    try:
        response = httpx.post(
            url,
            json=body,
            headers={"User-Agent": USER_AGENT},
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as error:
        return Attempt(number, None, f"{type(error).__name__}: {error}"[:ERROR_CHARACTERS])
    failed = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Attempt(number, response.status_code, failed)


def deliver(
    url: str,
    body: dict[str, Any],
    on_attempt: Callable[[Attempt], None],
    attempts: int = ATTEMPTS,
    first_wait: float = FIRST_WAIT_SECONDS,
) -> bool:
    """POST ``body`` to ``url`` until an attempt is delivered or ``attempts`` have failed, waiting
    ``first_wait`` seconds, then twice as long each time, between them; ``on_attempt`` hears of
    each. Whether it was delivered."""
    for number in range(1, attempts + 1):
        attempt = post_once(url, body, number)
        on_attempt(attempt)
        if attempt.delivered:
            return True
        if number < attempts:
            time.sleep(first_wait * 2 ** (number - 1))
    return False


def notify_job_end(factory: sessionmaker[Session], job_id: str, url: str, body: dict[str, Any]) -> bool:
    """Call the job's webhook with ``body`` (``webhook_body``), logging each attempt and storing it
    as a ``webhook_called`` event; never raises. Whether the hook took it."""

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
        return deliver(url, body, record)
    except Exception:
        LOGGER.exception("job %s: the webhook could not be called", job_id)
        return False
