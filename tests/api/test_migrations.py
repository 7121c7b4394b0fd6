"""Alembic migrations: from empty they build exactly the models' schema; down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from api.db.migrate import downgrade, upgrade
from api.db.models import Base
from api.db.session import normalise_url


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
    assert {"teams", "api_tokens", "datasets", "jobs", "trials"} <= _tables(database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) <= {"alembic_version"}
    upgrade(database_url)
    assert _differences(database_url) == []
