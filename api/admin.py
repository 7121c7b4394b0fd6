"""Teams and tokens, administered on the server (``scaler team …``, ``scaler token …``) or over
REST by an admin token (``/v1/admin``): one set of functions, so both apply the same rules.

A token's plaintext is returned once, by ``issue_token``; only its SHA-256 is stored, and no
listing returns either."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import hash_token
from api.db.models import ApiToken, Team, utcnow
from search_spaces import NAME_MAX_LENGTH, NAME_PATTERN


class AdminError(Exception):
    """A request that cannot be carried out, naming the field at fault; ``status_code`` is the
    HTTP status the REST API answers with (the CLI exits with status 2)."""

    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    created_at: dt.datetime
    active_tokens: int  # tokens not revoked


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its plaintext nor its hash."""

    id: int
    team: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class IssuedToken:
    info: TokenInfo
    token: str  # the plaintext, shown once


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Times as stored are UTC; SQLite hands them back without their zone."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def check_name(field: str, value: str) -> str:
    """A team name or token label: 1 to 200 characters, no control characters (as dataset names)."""
    if not value:
        raise AdminError(field, "must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise AdminError(field, f"{len(value)} characters, over the limit of {NAME_MAX_LENGTH}")
    if re.fullmatch(NAME_PATTERN, value) is None:
        raise AdminError(field, "must not contain control characters")
    return value


def create_team(session: Session, name: str) -> TeamInfo:
    """A new team; a name already taken is a 409."""
    check_name("name", name)
    taken = AdminError("name", f"a team named {name!r} exists", 409)
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise taken
    team = Team(name=name)
    session.add(team)
    try:
        session.commit()
    except IntegrityError:  # created by someone else since the check
        session.rollback()
        raise taken from None
    return TeamInfo(team.id, team.name, _utc(team.created_at), 0)


def list_teams(session: Session) -> list[TeamInfo]:
    """Every team, oldest first, with its number of tokens not revoked."""
    active = (
        select(ApiToken.team_id, func.count().label("tokens"))
        .where(ApiToken.revoked_at.is_(None))
        .group_by(ApiToken.team_id)
        .subquery()
    )
    rows = session.execute(
        select(Team.id, Team.name, Team.created_at, func.coalesce(active.c.tokens, 0))
        .outerjoin(active, active.c.team_id == Team.id)
        .order_by(Team.id)
    ).all()
    return [TeamInfo(row[0], row[1], _utc(row[2]), int(row[3])) for row in rows]


def issue_token(session: Session, team_name: str, name: str = "default", admin: bool = False) -> IssuedToken:
    """A new token for the existing team ``team_name``: its plaintext, to be shown once."""
    check_name("team", team_name)
    check_name("name", name)
    team = session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        raise AdminError("team", f"no team named {team_name!r}; create it first")
    token = secrets.token_urlsafe(32)
    row = ApiToken(
        team_id=team.id, token_hash=hash_token(token), name=name, role="admin" if admin else "member"
    )
    session.add(row)
    session.commit()
    return IssuedToken(TokenInfo(row.id, team.name, row.name, row.role, _utc(row.created_at), None), token)


def _token_rows(session: Session, token_id: int | None = None) -> list[TokenInfo]:
    query = (
        select(ApiToken.id, Team.name, ApiToken.name, ApiToken.role, ApiToken.created_at, ApiToken.revoked_at)
        .join(Team, Team.id == ApiToken.team_id)
        .order_by(ApiToken.id)
    )
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    return [
        TokenInfo(token_id, team, name, role, _utc(created_at), _utc(revoked_at))
        for token_id, team, name, role, created_at, revoked_at in session.execute(query).all()
    ]


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, oldest first, revoked ones included (with the time they were revoked)."""
    return _token_rows(session)


def revoke_token(session: Session, token_id: int) -> TokenInfo:
    """Revoke token ``token_id`` (revoking it again keeps the first time). Processes that looked
    it up recently accept it until their cache forgets it (``TokenCache``)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AdminError("id", f"no token {token_id}", 404)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return _token_rows(session, token_id)[0]
