"""Teams and tokens over REST, for admin tokens only (others get a 403): the same functions as
``scaler team …`` and ``scaler token …`` (``api.admin``). A new token's plaintext is in the answer
that creates it, and nowhere else."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api import admin
from api.auth import Caller, TokenCache
from api.deps import SessionDep, TeamDep
from api.errors import FieldError, error_responses
from api.routing import SessionReleasingRoute
from search_spaces import NAME_MAX_LENGTH, NAME_PATTERN

MAX_ID = 2**31 - 1  # the database's integer ids end there


async def require_admin(caller: TeamDep) -> Caller:
    if not caller.admin:
        raise FieldError("authorization", "an admin token is required to manage teams and tokens", 403)
    return caller


router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    route_class=SessionReleasingRoute,
    dependencies=[Depends(require_admin)],
    responses=error_responses(403),
)
# team names and token labels: the rule of every name a person gives (api.admin checks it too)
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class TeamList(BaseModel):
    items: list[admin.TeamInfo]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: Name
    name: Name = "default"  # a label
    admin: StrictBool = False


@dataclasses.dataclass(frozen=True)
class TokenCreated(admin.TokenInfo):
    token: str  # shown once: only its SHA-256 is stored


class TokenList(BaseModel):
    items: list[admin.TokenInfo]


@contextmanager
def field_errors() -> Iterator[None]:
    try:
        yield
    except admin.AdminError as error:
        raise FieldError(error.field, error.message, error.status_code) from None


@router.post(
    "/teams",
    status_code=status.HTTP_201_CREATED,
    response_model=admin.TeamInfo,
    responses=error_responses(409),
)
def create_team(body: TeamIn, session: SessionDep) -> admin.TeamInfo:
    """A new team (409 when the name is taken)."""
    with field_errors():
        return admin.create_team(session, body.name)


@router.get("/teams", response_model=TeamList)
def list_teams(session: SessionDep) -> TeamList:
    return TeamList(items=admin.list_teams(session))


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
def create_token(body: TokenIn, session: SessionDep) -> TokenCreated:
    """A new token for an existing team; its plaintext is in this answer only."""
    with field_errors():
        issued = admin.issue_token(session, body.team, body.name, body.admin)
    return TokenCreated(**dataclasses.asdict(issued.info), token=issued.token)


@router.get("/tokens", response_model=TokenList)
def list_tokens(session: SessionDep) -> TokenList:
    """Every token, revoked ones included; never a token or its hash."""
    return TokenList(items=admin.list_tokens(session))


@router.delete("/tokens/{token_id}", response_model=admin.TokenInfo, responses=error_responses(404))
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, session: SessionDep
) -> admin.TokenInfo:
    """Revoke a token: refused (401) from now on by this process, by others within
    SCALER_TOKEN_CACHE_SECONDS. Revoking it again changes nothing."""
    with field_errors():
        revoked = admin.revoke_token(session, token_id)
    cache: TokenCache = request.app.state.token_cache
    cache.forget(token_id)
    return revoked
