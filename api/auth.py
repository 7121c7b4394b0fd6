"""Bearer tokens mapped to teams. Tokens are stored as SHA-256 hashes."""

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
    """The team a request acts for."""

    id: int
    name: str


def team_for_token(session: Session, token: str) -> Caller | None:
    row = session.execute(
        select(Team.id, Team.name)
        .join(ApiToken, ApiToken.team_id == Team.id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    return Caller(row.id, row.name) if row else None


class TokenCache:
    """Token → team lookups remembered for ``seconds`` (one process); a deleted token stops
    working within that time. Unknown tokens are not remembered."""

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


def create_token(session: Session, team_name: str, token: str | None = None, name: str = "default") -> str:
    """Add a token for ``team_name`` (created if missing); returns the plaintext token."""
    team = session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        team = Team(name=team_name)
        session.add(team)
        session.flush()
    token = token or secrets.token_urlsafe(32)
    if session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token))) is None:
        session.add(ApiToken(team_id=team.id, token_hash=hash_token(token), name=name))
    session.commit()
    return token


def ensure_default_token(factory: sessionmaker[Session], token: str | None) -> str | None:
    """The embedded single-team setup: ``token`` (SCALER_TOKEN) becomes the default team's token;
    without one, a token is generated the first time (returned so that ``serve`` can print it)."""
    with factory() as session:
        if token:
            create_token(session, DEFAULT_TEAM, token)
            return token
        if session.scalar(select(ApiToken.id).limit(1)) is None:
            return create_token(session, DEFAULT_TEAM)
    return None
