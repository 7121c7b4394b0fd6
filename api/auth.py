"""Bearer tokens mapped to teams. Tokens are stored as SHA-256 hashes; an admin token may also
manage teams and tokens (``api.admin``); a revoked token is refused."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import ApiToken, Team

DEFAULT_TEAM = "default"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The team a request acts for; ``admin`` and ``token_id`` are those of the token it sent."""

    id: int
    name: str
    admin: bool = False
    token_id: int | None = None


def team_for_token(session: Session, token: str) -> Caller | None:
    """The caller behind an unrevoked ``token``; None for an unknown or revoked one."""
    row = session.execute(
        select(Team.id, Team.name, ApiToken.role, ApiToken.id.label("token_id"))
        .join(ApiToken, ApiToken.team_id == Team.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    return Caller(row.id, row.name, row.role == "admin", row.token_id) if row else None


class TokenCache:
    """Token → team lookups remembered for ``seconds`` (one process): a token revoked elsewhere
    (the CLI, another replica) stops working within that time; one revoked through this process is
    forgotten at once (``forget``). Unknown tokens are not remembered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.entries: dict[str, tuple[Caller, float]] = {}
        self.lock = threading.Lock()

    def cached(self, token: str) -> Caller | None:
        """The remembered team of ``token``, if it is still fresh (no query)."""
        with self.lock:
            found = self.entries.get(hash_token(token))
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def lookup(self, session: Session, token: str) -> Caller | None:
        cached = self.cached(token)
        if cached is not None:
            return cached
        key = hash_token(token)
        now = time.monotonic()
        caller = team_for_token(session, token)
        if caller is not None and self.seconds > 0:
            with self.lock:
                if len(self.entries) > 10_000:
                    self.entries.clear()
                self.entries[key] = (caller, now + self.seconds)
        return caller

    def forget(self, token_id: int) -> None:
        """Drop the remembered lookups of token ``token_id`` (revoked in this process)."""
        with self.lock:
            for key in [key for key, (caller, _) in self.entries.items() if caller.token_id == token_id]:
                del self.entries[key]


def create_token(
    session: Session, team_name: str, token: str | None = None, name: str = "default", admin: bool = False
) -> str:
    """Add a token for ``team_name`` (created if missing); returns the plaintext token. A token
    already stored is left as it is (its role and revocation included). ``api.admin.issue_token``
    is the checked way for administrators."""
    team = session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        team = Team(name=team_name)
        session.add(team)
        session.flush()
    token = token or secrets.token_urlsafe(32)
    if session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token))) is None:
        role = "admin" if admin else "member"
        session.add(ApiToken(team_id=team.id, token_hash=hash_token(token), name=name, role=role))
    session.commit()
    return token


def ensure_default_token(factory: sessionmaker[Session], token: str | None) -> str | None:
    """The embedded single-team setup: ``token`` (SCALER_TOKEN) becomes the default team's token;
    without one, a token is generated when the database holds none (returned so that ``serve``
    can print it). Either is an admin token: whoever started the server can administer it."""
    with factory() as session:
        if token:
            create_token(session, DEFAULT_TEAM, token, admin=True)
            return token
        if session.scalar(select(ApiToken.id).limit(1)) is None:
            return create_token(session, DEFAULT_TEAM, admin=True)
    return None
