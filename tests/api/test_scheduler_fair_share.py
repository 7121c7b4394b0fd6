"""Fair share between teams on SQLite and PostgreSQL: priorities first, then the team with fewer
running jobs, then the oldest job; a team at its limit holds up no other team and stays at its
limit when several schedulers claim at once; a queued job says why it waits; a starting job
learns how many jobs share the cluster. The settings behind it refuse malformed values."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from api.auth import create_token
from api.db.migrate import upgrade
from api.db.models import Job, Team, utcnow
from api.db.session import make_engine, make_session_factory
from api.fair_share import jobs_sharing, jobs_sharing_from_environment, read_queue, waiting_reason
from api.scheduler import JobScheduler
from api.settings import InvalidSettingsError, Settings, get_settings

TEAMS = ("alpha", "beta", "gamma", "urgent")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'fair.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        for team in TEAMS:
            create_token(session, team, f"{team}-token")
    yield factory, url
    engine.dispose()


class Queue:
    """Jobs added one second apart (the order they were submitted in)."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.start = utcnow()
        self.added = 0

    def add(self, team: str, job_id: str, status: str = "queued") -> None:
        with self.factory() as session:
            team_id = session.query(Team).filter(Team.name == team).one().id
            created = self.start + dt.timedelta(seconds=self.added)
            values = {"claimed_by": "elsewhere", "heartbeat_at": utcnow()} if status == "running" else {}
            session.add(
                Job(
                    id=job_id,
                    team_id=team_id,
                    name=job_id,
                    status=status,
                    spec={},
                    front=[],
                    hypervolume_history=[],
                    created_at=created,
                    **values,
                )
            )
            session.commit()
        self.added += 1

    def finish(self, job_id: str) -> None:
        with self.factory() as session:
            session.get(Job, job_id).status = "done"
            session.commit()

    def waiting(self, settings: Settings, job_id: str) -> str | None:
        with self.factory() as session:
            return waiting_reason(session, settings, session.get(Job, job_id))


def _claims(scheduler: JobScheduler) -> list[str]:
    taken = []
    while (job_id := scheduler.claim()) is not None:
        taken.append(job_id)
    return taken


def test_teams_take_turns_within_a_priority_and_a_higher_priority_goes_first(database, tmp_path):
    factory, url = database
    settings = Settings(data_dir=tmp_path, database_url=url, team_priorities={"urgent": 5, "gamma": -1})
    queue = Queue(factory)
    for job_id in ("a1", "a2", "a3"):
        queue.add("alpha", job_id)  # alpha submitted first, three jobs
    queue.add("gamma", "g1")  # a lower priority, before beta
    queue.add("beta", "b1")
    queue.add("beta", "b2")
    queue.add("urgent", "u1")  # the last submitted, the highest priority
    assert queue.waiting(settings, "u1").startswith("next to start")
    assert queue.waiting(settings, "b2") == "4 queued jobs start first (0 jobs running)"
    # FIFO would run a1 a2 a3 g1 b1 b2 u1: alpha and beta alternate instead, gamma goes last
    assert _claims(JobScheduler(settings, factory)) == ["u1", "a1", "b1", "a2", "b2", "a3", "g1"]
    assert queue.waiting(settings, "a1") is None  # running: nothing to wait for


def test_a_team_at_its_limit_holds_up_no_other_team(database, tmp_path):
    factory, url = database
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        team_max_jobs=2,
        team_max_jobs_overrides={"alpha": 1},  # alpha: one job at a time; others: two
    )
    queue = Queue(factory)
    queue.add("alpha", "a0", status="running")  # another scheduler runs one of alpha's jobs
    for job_id in ("a1", "a2"):
        queue.add("alpha", job_id)
    for job_id in ("b1", "b2", "b3"):
        queue.add("beta", job_id)
    assert queue.waiting(settings, "a1").startswith("team limit reached: 1 of the team's 1 jobs")
    scheduler = JobScheduler(settings, factory)
    assert _claims(scheduler) == ["b1", "b2"]  # beta up to its limit, alpha's older jobs waiting
    assert queue.waiting(settings, "b3").startswith("team limit reached: 2 of the team's 2 jobs")
    queue.finish("a0")
    assert queue.waiting(settings, "a2").startswith("team limit: the team's older queued jobs")
    queue.finish("b1")
    assert _claims(scheduler) == ["a1", "b3"]
    assert queue.waiting(settings, "a2").startswith("team limit reached")


def test_a_teams_limit_holds_while_several_schedulers_claim_at_once(database, tmp_path):
    factory, url = database
    settings = Settings(data_dir=tmp_path, database_url=url, team_max_jobs_overrides={"alpha": 2})
    queue = Queue(factory)
    for index in range(8):
        queue.add("alpha", f"a{index}")
    queue.add("beta", "b1")
    schedulers = [JobScheduler(settings, factory) for _ in range(4)]
    barrier = threading.Barrier(len(schedulers))
    taken: list[str] = []
    lock = threading.Lock()

    def work(scheduler: JobScheduler) -> None:
        barrier.wait()
        for _ in range(5):  # a claim may lose a race (None) while jobs are left: try again
            job_id = scheduler.claim()
            if job_id is not None:
                with lock:
                    taken.append(job_id)

    threads = [threading.Thread(target=work, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with factory() as session:
        running = sorted(job.id for job in session.query(Job).filter(Job.status == "running"))
    assert sorted(taken) == running and len(set(taken)) == len(taken)  # each job once
    assert running == ["a0", "a1", "b1"]  # alpha's two oldest, never a third; beta's too


def test_a_claim_chosen_from_an_older_look_at_the_queue_keeps_the_limit(database, tmp_path):
    factory, url = database
    settings = Settings(data_dir=tmp_path, database_url=url, team_max_jobs=1)
    queue = Queue(factory)
    queue.add("alpha", "a1")
    queue.add("alpha", "a2")
    with factory() as session:
        seen = read_queue(session, settings)  # before anything runs: alpha may start a job
    assert JobScheduler(settings, factory).claim() == "a1"  # another scheduler starts one
    later = JobScheduler(settings, factory)
    (a2,) = [job for job in seen.queued if job.job_id == "a2"]
    assert later.claim_queued(a2, seen.policies[a2.team_id]) is False
    assert queue.waiting(settings, "a2").startswith("team limit reached")


def test_a_starting_job_counts_the_jobs_sharing_the_cluster(database, tmp_path):
    factory, url = database
    queue = Queue(factory)
    queue.add("alpha", "a0", status="running")  # another scheduler's job
    queue.add("alpha", "a1")
    queue.add("beta", "b1")
    queue.add("beta", "b2")
    local = Settings(data_dir=tmp_path, database_url=url, team_max_jobs=1)
    cluster = local.model_copy(update={"ray_address": "10.0.0.1:6380"})
    with factory() as session:
        # on this machine: its own job and the one it is about to start (alpha is at its limit,
        # beta's second job waits for the first), whatever other schedulers run elsewhere
        assert jobs_sharing(session, local, own_running=1, free_slots=3) == 2
        assert jobs_sharing(session, local, own_running=1, free_slots=0) == 1
        # on a shared cluster: every running job of the service too
        assert jobs_sharing(session, cluster, own_running=1, free_slots=3) == 2
        assert jobs_sharing(session, cluster.model_copy(update={"team_max_jobs": None}), 1, 3) == 4


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("SCALER_TEAM_MAX_JOBS", "0", "SCALER_TEAM_MAX_JOBS: Input should be greater than or equal to 1"),
        ("SCALER_TEAM_MAX_JOBS", "two", "SCALER_TEAM_MAX_JOBS: Input should be a valid integer"),
        ("SCALER_TEAM_MAX_JOBS_OVERRIDES", '{"alpha": 0}', "SCALER_TEAM_MAX_JOBS_OVERRIDES['alpha']"),
        ("SCALER_TEAM_MAX_JOBS_OVERRIDES", '{"alpha": "2"}', "SCALER_TEAM_MAX_JOBS_OVERRIDES['alpha']"),
        ("SCALER_TEAM_MAX_JOBS_OVERRIDES", '{"": 2}', "(the team name)"),
        ("SCALER_TEAM_PRIORITIES", '{"alpha": 1.5}', "SCALER_TEAM_PRIORITIES['alpha']"),
        ("SCALER_TEAM_PRIORITIES", "{alpha: 1}", "SCALER_TEAM_PRIORITIES: not JSON"),
        ("SCALER_TEAM_PRIORITIES", "[1]", "SCALER_TEAM_PRIORITIES: a JSON object of team names"),
    ],
)
def test_malformed_team_settings_are_refused_by_name(monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettingsError) as refused:
        get_settings()
    assert named in str(refused.value)


def test_team_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCALER_TEAM_MAX_JOBS", "3")
    monkeypatch.setenv("SCALER_TEAM_MAX_JOBS_OVERRIDES", '{"alpha": 1}')
    monkeypatch.setenv("SCALER_TEAM_PRIORITIES", '{"urgent": 10, "batch": -1}')
    settings = get_settings()
    assert [settings.team_max_jobs_of(team) for team in ("alpha", "beta")] == [1, 3]
    assert [settings.team_priority_of(team) for team in ("urgent", "batch", "beta")] == [10, -1, 0]


def test_a_runner_reads_the_jobs_sharing_the_cluster_strictly(monkeypatch):
    monkeypatch.delenv("SCALER_JOBS_SHARING", raising=False)
    assert jobs_sharing_from_environment() == 1  # started by hand: the cluster is its own
    monkeypatch.setenv("SCALER_JOBS_SHARING", "3")
    assert jobs_sharing_from_environment() == 3
    for bad in ("0", "-1", "1.5", "two"):
        monkeypatch.setenv("SCALER_JOBS_SHARING", bad)
        with pytest.raises(ValueError, match="SCALER_JOBS_SHARING"):
            jobs_sharing_from_environment()
