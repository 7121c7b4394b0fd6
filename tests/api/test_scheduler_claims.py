"""Claiming jobs on SQLite and PostgreSQL: oldest queued first, each job once across schedulers,
and a running job whose runner went silent is taken over."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from api.auth import create_token
from api.db.migrate import upgrade
from api.db.models import Job, Team, utcnow
from api.db.session import make_engine, make_session_factory
from api.scheduler import JobScheduler
from api.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'claims.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    upgrade(url)
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    with session_factory() as session:
        create_token(session, "team", "token")
    yield session_factory, Settings(data_dir=tmp_path, database_url=url, scheduler_stale_seconds=30)
    engine.dispose()


def _add_job(session_factory, job_id: str, **values) -> None:
    with session_factory() as session:
        team = session.query(Team).one()
        session.add(
            Job(id=job_id, team_id=team.id, name=job_id, spec={}, front=[], hypervolume_history=[], **values)
        )
        session.commit()


def test_oldest_queued_job_first_and_each_job_once(factory):
    session_factory, settings = factory
    now = utcnow()
    for index in range(6):
        _add_job(
            session_factory, f"job{index}", status="queued", created_at=now + dt.timedelta(seconds=index)
        )
    schedulers = [JobScheduler(settings, session_factory) for _ in range(3)]
    assert schedulers[0].claim() == "job0"
    claimed: list[str | None] = []
    lock = threading.Lock()

    def queued() -> int:
        with session_factory() as session:
            return session.query(Job).filter(Job.status == "queued").count()

    def work(scheduler: JobScheduler) -> None:
        # a claim may lose a race (None) while jobs are left: a scheduler just tries again
        for _ in range(100):
            job_id = scheduler.claim()
            with lock:
                claimed.append(job_id)
            if job_id is None and queued() == 0:
                return

    threads = [threading.Thread(target=work, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [job_id for job_id in claimed if job_id is not None]
    assert sorted(taken) == [f"job{index}" for index in range(1, 6)]  # every job once, none twice
    with session_factory() as session:
        assert {job.status for job in session.query(Job)} == {"running"}


def test_a_silent_runners_job_is_taken_over_and_a_live_one_is_not(factory):
    session_factory, settings = factory
    now = utcnow()
    _add_job(
        session_factory,
        "silent",
        status="running",
        claimed_by="dead-host",
        heartbeat_at=now - dt.timedelta(minutes=5),
    )
    _add_job(session_factory, "alive", status="running", claimed_by="other-host", heartbeat_at=now)
    scheduler = JobScheduler(settings, session_factory)
    assert scheduler.claim() == "silent"
    assert scheduler.claim() is None
    with session_factory() as session:
        assert session.get(Job, "silent").claimed_by == scheduler.name
        assert session.get(Job, "alive").claimed_by == "other-host"
