"""Alembic migrations: from empty they build exactly the models' schema; down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from api.db.migrate import downgrade, upgrade
from api.db.models import Base
from api.db.session import make_engine, normalise_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return request.getfixturevalue("postgres_database")


def _differences(url: str) -> list:
    engine = create_engine(normalise_url(url))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    return differences


def _tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_from_empty_equals_the_models_and_downgrade_then_upgrade_again(database_url):
    upgrade(database_url)
    assert _differences(database_url) == []
    assert {"teams", "api_tokens", "datasets", "devices", "jobs", "trials"} <= _tables(database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) <= {"alembic_version"}
    upgrade(database_url)
    assert _differences(database_url) == []


def _insert_a_trial_of_the_0005_schema(engine: Engine) -> None:
    """A team, a done job and one completed trial, written with the columns every schema since 0005
    has (what an older deployment holds before it upgrades)."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO teams (id, name, created_at) VALUES (1, 'a', CURRENT_TIMESTAMP)")
        )
        connection.execute(
            text(
                "INSERT INTO jobs (id, team_id, name, status, spec, created_by, cancel_requested,"
                " resume_requested, trials_total, trials_finished, epochs_used, device_hours, front,"
                " hypervolume_history, version, created_at) VALUES ('j', 1, 'j', 'done', '{}', 'a',"
                " false, false, 1, 1, 1, 0, '[]', '[]', 0, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO trials (job_id, trial_id, status, point, epochs, ap, ap50, fitness, history,"
                " seconds, device_hours, updated_at) VALUES ('j', 't0', 'completed', '{}', 1, 0.1, 0.2,"
                " 0.1, '[]', 1, 0, CURRENT_TIMESTAMP)"
            )
        )


def test_trials_of_an_older_schema_keep_their_rows_through_0006_up_and_down(database_url):
    """0006 adds what a trial's weights started from; older rows read as not recorded (NULL), and
    going back drops the columns without losing a trial."""
    upgrade(database_url, "0005")
    engine = create_engine(normalise_url(database_url))
    _insert_a_trial_of_the_0005_schema(engine)
    upgrade(database_url)
    with engine.begin() as connection:
        row = connection.execute(
            text("SELECT trial_id, initialised_from, inherited_share, latency_stats FROM trials")
        ).one()
        assert tuple(row) == ("t0", None, None, None)  # 0007's latency measurement: not recorded
        connection.execute(
            text("UPDATE trials SET initialised_from = :source, inherited_share = 0.75"),
            {"source": "/data/" + "w" * 4000 + ".pt"},  # a long path fits: it is stored as given
        )
    downgrade(database_url, "0005")
    assert "initialised_from" not in {column["name"] for column in inspect(engine).get_columns("trials")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT trial_id FROM trials")).scalars().all() == ["t0"]
    engine.dispose()


def test_0008_adds_the_device_registry_and_going_back_drops_it_alone(database_url):
    upgrade(database_url, "0007")
    assert "devices" not in _tables(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)  # SQLite's foreign keys on, as the service has them
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO teams (id, name, created_at) VALUES (1, 'a', CURRENT_TIMESTAMP)")
        )
        connection.execute(
            text(
                "INSERT INTO devices (name, kind, runtime, precision, batch, threads, description,"
                " created_by, created_at) VALUES ('edge', 'cpu', 'torch', 'fp32', 1, 2, '', 1,"
                " CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("DELETE FROM teams"))  # the device outlives the team that added it
        assert connection.execute(text("SELECT name, created_by FROM devices")).one() == ("edge", None)
    downgrade(database_url, "0007")
    assert "devices" not in _tables(database_url) and "teams" in _tables(database_url)
    engine.dispose()


def test_0013_reads_every_earlier_trial_as_searched_and_going_back_keeps_the_trials(database_url):
    """0013 says where a trial's result comes from: every trial recorded before was searched (its
    job trained it); going back drops the origin and source, never a trial."""
    upgrade(database_url, "0012")
    engine = create_engine(normalise_url(database_url))
    _insert_a_trial_of_the_0005_schema(engine)
    upgrade(database_url)
    with engine.begin() as connection:
        assert tuple(connection.execute(text("SELECT origin, source FROM trials")).one()) == (
            "searched",
            None,
        )
        connection.execute(
            text(
                "INSERT INTO trials (job_id, trial_id, status, point, epochs, ap, ap50, fitness, history,"
                " seconds, device_hours, updated_at, origin, source) VALUES ('j', 'imported-1', 'completed',"
                " '{}', 0, 0.3, 0, 0, '[]', 0, 0, CURRENT_TIMESTAMP, 'imported', 'a paper')"
            )
        )
    downgrade(database_url, "0012")
    assert "origin" not in {column["name"] for column in inspect(engine).get_columns("trials")}
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT trial_id FROM trials ORDER BY trial_id")).scalars().all()
        assert kept == ["imported-1", "t0"]
    engine.dispose()
