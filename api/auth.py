"""Bearer tokens mapped to teams. Tokens are stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import ApiToken, Team

DEFAULT_TEAM = "default"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def team_for_token(session: Session, token: str) -> Team | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return session.get(Team, row.team_id) if row else None


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
