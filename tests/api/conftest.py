"""A real uvicorn server on a free port, over SQLite and over a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from api.app import create_app
from api.auth import create_token
from api.db.session import make_engine, make_session_factory, normalise_url
from api.serving import serve
from api.settings import Settings

POSTGRES_URL = os.environ.get("SCALER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "team-a-token"
OTHER_TOKEN = "team-b-token"
TINY = {
    "name": "tiny",
    "space": {
        "architecture": {
            "input_size": [64],
            "depth_multiple": {"low": 0.33, "high": 0.33},
            "width_multiple": {"low": 0.125, "high": 0.125},
        }
    },
    "budget": {"max_trials": 2, "epochs_per_trial": 1},
}  # fmt: skip  (a job spec the tests submit: queued, or run in seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new database on the test PostgreSQL server, dropped afterwards."""
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"scaler_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no server: the PostgreSQL half of the tests cannot run
        pytest.skip(f"PostgreSQL unavailable at {POSTGRES_URL}: {error}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@dataclass
class Server:
    url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def start_server(settings: Settings) -> Server:
    port = free_port()
    app = create_app(settings)
    server = serve(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    engine = make_engine(settings.resolved_database_url())
    with make_session_factory(engine)() as session:
        create_token(session, "team-a", TOKEN)
        create_token(session, "team-b", OTHER_TOKEN)
    engine.dispose()
    return Server(f"http://127.0.0.1:{port}", settings, server, thread)


def wait_for_job(client: httpx.Client, job_id: str, until, timeout: float = 500) -> dict:
    """Poll ``GET /v1/jobs/{id}`` until ``until(job)`` holds; the last state on timeout."""
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} never reached the expected state: {job}")


def make_settings(data_dir: Path, database_url: str | None, **changes: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "data_roots": [data_dir, Path("/tmp")],
        "run_scheduler": False,
        "max_trials": 50,
        "scheduler_poll_seconds": 0.2,
    }
    return Settings(**{**values, **changes})


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API without a scheduler (jobs stay queued), on each database."""
    data_dir = tmp_path_factory.mktemp(f"api-{request.param}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgresql" else None
        running = start_server(make_settings(data_dir, url))
        yield running
        running.stop()


@pytest.fixture(scope="module")
def dataset(server: Server, synth_dataset: Path) -> str:
    """The shared synth dataset, copied inside the server's data root."""
    target = Path(server.settings.data_dir) / "synth"
    if not target.exists():
        shutil.copytree(synth_dataset, target)
    return str(target)
