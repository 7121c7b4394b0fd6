"""Engine and session factories (nothing is created at import time)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """``postgresql://`` URLs use the psycopg 3 driver."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """``pool_size`` connections are kept open (PostgreSQL); up to half as many again are opened
    for bursts and closed afterwards."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max(2, pool_size // 2))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose flushes bump the version of every job they change (see ``versioning``)."""
    from api.db.versioning import bump_versions

    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_flush", bump_versions)
    return factory
