"""Routes whose request session hands its connection back inside the route's own thread.

FastAPI runs a sync route on the shared thread pool, then (for a ``response_model``) validates the
returned value on that pool again. Were the session closed only at the dependency's teardown, a
burst of requests could fill the pool with routes waiting for a connection while every connection
belongs to a finished route waiting for a thread to serialise its answer: a deadlock until the
connection pool's timeout. Closing the session as the route returns breaks that cycle; the
dependency's teardown then finds nothing to release."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


def release_session_after(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` wrapped to close its ``session`` argument when it returns (sync routes only:
    an async route runs on the event loop and its teardown releases the session off the pool)."""
    if inspect.iscoroutinefunction(endpoint) or "session" not in inspect.signature(endpoint).parameters:
        return endpoint

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            session = kwargs.get("session")
            if isinstance(session, Session):
                session.close()

    return wrapper


class SessionReleasingRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, release_session_after(endpoint), **kwargs)
