"""Request dependencies (Annotated): settings, a DB session, the caller's team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import Caller, TokenCache
from api.settings import Settings

bearer = HTTPBearer(auto_error=False)


async def get_settings_from_app(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request. Async on purpose: making one does no I/O (a connection is taken
    from the pool on first use, inside the sync route's thread), and it saves a thread hop."""
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():  # a connection to hand back (a rollback): off the event loop,
            # on threads of its own, never queued behind requests that wait for a connection
            await anyio.to_thread.run_sync(session.close, limiter=request.app.state.release_limiter)
        else:
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]
# sync routes close it as they return (api.routing.SessionReleasingRoute)
SessionDep = Annotated[Session, Depends(get_session)]


async def get_team(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller's team; remembered tokens are answered without a thread hop or a query."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", {"WWW-Authenticate": "Bearer"}
        )
    tokens: TokenCache = request.app.state.token_cache
    team = tokens.cached(credentials.credentials)
    if team is None:
        team = await run_in_threadpool(_lookup, request, tokens, credentials.credentials)
    if team is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token", {"WWW-Authenticate": "Bearer"})
    return team


def _lookup(request: Request, tokens: TokenCache, token: str) -> Caller | None:
    with request.app.state.session_factory() as session:
        return tokens.lookup(session, token)


TeamDep = Annotated[Caller, Depends(get_team)]
