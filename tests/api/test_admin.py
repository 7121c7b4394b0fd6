"""Teams, tokens and admins, on SQLite and PostgreSQL: over REST (admin tokens only) and with the
server-side CLI (`scaler team …`, `scaler token …`) on the database a running server uses."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select, text

from api.auth import hash_token, team_for_token
from api.db.migrate import downgrade, upgrade
from api.db.models import ApiToken, Job, Team
from api.db.session import make_engine, make_session_factory, normalise_url
from cli.main import cli
from tests.api.conftest import (
    OTHER_TOKEN,
    TOKEN,
    Server,
    fresh_postgres_database,
    make_settings,
    start_server,
)

ADMIN_TOKEN = "admin-token"  # SCALER_TOKEN of the server: the default team's token, an admin one
CACHE_SECONDS = 4.0  # the server remembers a token this long: a revoke through it must not wait


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def admin_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"admin-{request.param}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgresql" else None
        settings = make_settings(data_dir, url, token=ADMIN_TOKEN, token_cache_seconds=CACHE_SECONDS)
        running = start_server(settings)
        yield running
        running.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def scaler(server: Server, *arguments: str) -> Result:
    """``scaler ARGUMENTS`` on the server's database: its data dir (SQLite) or SCALER_DATABASE_URL."""
    environment = {"SCALER_DATABASE_URL": server.settings.database_url, "SCALER_DATA_DIR": None}
    extra = ["--data-dir", str(server.settings.data_dir)]
    return CliRunner().invoke(cli, [*arguments, *extra], env=environment)


def add_job(server: Server, team_name: str) -> str:
    """A queued job of ``team_name``, written straight to the database."""
    engine = make_engine(server.settings.resolved_database_url())
    job_id = uuid.uuid4().hex
    with make_session_factory(engine)() as session:
        team_id = session.scalar(select(Team.id).where(Team.name == team_name))
        session.add(Job(id=job_id, team_id=team_id, name="stored", spec={"name": "stored"}))
        session.commit()
    engine.dispose()
    return job_id


def stored_tokens(server: Server) -> list[tuple[str, str]]:
    engine = create_engine(normalise_url(server.settings.resolved_database_url()))
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(ApiToken.token_hash, ApiToken.name)).all()]
    engine.dispose()
    return rows


def wait_for_status(client: httpx.Client, path: str, expected: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while (found := client.get(path).status_code) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_admin_creates_a_team_and_a_token_that_sees_only_its_team(admin_server):
    name = unique("team-c")
    with admin_server.client(ADMIN_TOKEN) as admin:
        team = admin.post("/v1/admin/teams", json={"name": name})
        assert team.status_code == 201, team.text
        assert team.json()["name"] == name
        assert team.json()["active_tokens"] == 0
        again = admin.post("/v1/admin/teams", json={"name": name})
        assert again.status_code == 409
        assert again.json()["detail"]["field"] == "name"
        created = admin.post("/v1/admin/tokens", json={"team": name, "name": "ci"})
        assert created.status_code == 201, created.text
        issued = created.json()
        assert {"id", "team", "name", "role", "created_at", "revoked_at", "token"} <= issued.keys()
        assert (issued["team"], issued["name"], issued["role"], issued["revoked_at"]) == (
            name,
            "ci",
            "member",
            None,
        )
        listed = {found["name"]: found for found in admin.get("/v1/admin/teams").json()["items"]}
        assert listed[name]["active_tokens"] == 1
    theirs = add_job(admin_server, "team-a")
    ours = add_job(admin_server, name)
    with admin_server.client(issued["token"]) as client:
        assert client.get("/v1/usage").json()["team"] == name
        jobs = client.get("/v1/jobs")
        assert jobs.status_code == 200
        assert [job["id"] for job in jobs.json()["items"]] == [ours]
        assert client.get(f"/v1/jobs/{theirs}").status_code == 404
        assert client.get("/v1/admin/tokens").status_code == 403  # a member token


def test_an_admin_token_made_over_rest_can_administer(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        issued = admin.post("/v1/admin/tokens", json={"team": "team-b", "name": "ops", "admin": True}).json()
    assert issued["role"] == "admin"
    with admin_server.client(issued["token"]) as client:
        assert client.get("/v1/usage").json()["team"] == "team-b"
        assert client.get("/v1/admin/teams").status_code == 200


def test_non_admin_tokens_get_403_on_every_admin_route_and_no_token_401(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        paths = admin.get("/openapi.json").json()["paths"]
        victim = admin.post("/v1/admin/tokens", json={"team": "team-a"}).json()
        teams_before = admin.get("/v1/admin/teams").json()
        tokens_before = admin.get("/v1/admin/tokens").json()
    bodies = {
        "/v1/admin/teams": {"name": unique("sneaky")},
        "/v1/admin/tokens": {"team": "team-a", "admin": True},
    }
    operations = [
        (method.upper(), path.replace("{token_id}", str(victim["id"])))
        for path, methods in paths.items()
        if path.startswith("/v1/admin")
        for method in methods
    ]
    assert len(operations) >= 5
    for method, path in operations:
        for token in (TOKEN, OTHER_TOKEN):
            with admin_server.client(token) as client:
                response = client.request(method, path, json=bodies.get(path) if method == "POST" else None)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"]["field"] == "authorization"
        with admin_server.client(token=None) as client:
            assert client.request(method, path).status_code == 401, (method, path)
    with admin_server.client(ADMIN_TOKEN) as admin:
        assert admin.get("/v1/admin/teams").json() == teams_before
        assert admin.get("/v1/admin/tokens").json() == tokens_before  # none made, none revoked


def test_a_token_revoked_over_rest_is_refused_at_once(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        issued = admin.post("/v1/admin/tokens", json={"team": "team-a", "name": "short-lived"}).json()
        with admin_server.client(issued["token"]) as client:
            assert client.get("/v1/jobs").status_code == 200  # now remembered by the server
            revoked = admin.delete(f"/v1/admin/tokens/{issued['id']}")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["revoked_at"] is not None
            assert client.get("/v1/jobs").status_code == 401
        again = admin.delete(f"/v1/admin/tokens/{issued['id']}")
        assert again.status_code == 200
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
        missing = admin.delete("/v1/admin/tokens/999999")
        assert missing.status_code == 404
        assert missing.json()["detail"]["field"] == "id"
        listed = {found["id"]: found for found in admin.get("/v1/admin/tokens").json()["items"]}
    assert listed[issued["id"]]["revoked_at"] == revoked.json()["revoked_at"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/teams", {"name": ""}, "name"),
        ("/v1/admin/teams", {"name": "x" * 201}, "name"),
        ("/v1/admin/teams", {"name": "tab\there"}, "name"),
        ("/v1/admin/teams", {"name": "del\x7fhere"}, "name"),
        ("/v1/admin/tokens", {"team": "no-such-team"}, "team"),
        ("/v1/admin/tokens", {"team": "team-a", "name": "nul\x00"}, "name"),
    ],
)
def test_bad_requests_name_the_field(admin_server, path, body, field):
    with admin_server.client(ADMIN_TOKEN) as admin:
        before = admin.get("/v1/admin/tokens").json()
        response = admin.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"]["field"] == field
        assert admin.get("/v1/admin/tokens").json() == before


def test_malformed_token_requests_are_422(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        assert admin.post("/v1/admin/tokens", json={"team": "team-a", "admin": "yes"}).status_code == 422
        assert admin.post("/v1/admin/tokens", json={"team": "team-a", "role": "admin"}).status_code == 422
        assert admin.delete("/v1/admin/tokens/0").status_code == 422


def test_the_cli_makes_teams_and_tokens_the_running_server_accepts(admin_server):
    name = unique("team-cli")
    made = scaler(admin_server, "team", "create", name)
    assert made.exit_code == 0, made.output
    duplicate = scaler(admin_server, "team", "create", name)
    assert duplicate.exit_code == 2
    assert duplicate.stderr.strip().splitlines() == [f"error: name: a team named {name!r} exists"]
    unknown = scaler(admin_server, "token", "create", "--team", unique("nobody"))
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: team: ")
    bad = scaler(admin_server, "team", "create", "bell\x07")
    assert (bad.exit_code, bad.stderr.startswith("error: name: ")) == (2, True)

    plain = scaler(admin_server, "token", "create", "--team", name, "--name", "laptop")
    assert plain.exit_code == 0, plain.output
    member = plain.stdout.strip()
    assert len(plain.stdout.splitlines()) == 1  # the token alone on stdout
    as_json = scaler(admin_server, "token", "create", "--team", name, "--admin", "--json")
    assert as_json.exit_code == 0, as_json.output
    issued = json.loads(as_json.stdout)
    assert (issued["team"], issued["role"]) == (name, "admin")
    with admin_server.client(member) as client:
        assert client.get("/v1/usage").json()["team"] == name
        assert client.get("/v1/admin/tokens").status_code == 403
    with admin_server.client(issued["token"]) as client:
        assert client.get("/v1/usage").json()["team"] == name
        assert client.get("/v1/admin/tokens").status_code == 200

    teams = json.loads(scaler(admin_server, "team", "list", "--json").stdout)["items"]
    assert next(found for found in teams if found["name"] == name)["active_tokens"] == 2
    assert name in scaler(admin_server, "team", "list").stdout

    listing = scaler(admin_server, "token", "list")
    listed = json.loads(scaler(admin_server, "token", "list", "--json").stdout)["items"]
    assert listing.exit_code == 0
    assert f"{name} / laptop" in listing.stdout
    for secret in (member, issued["token"], ADMIN_TOKEN, TOKEN):
        for output in (listing.output, json.dumps(listed)):
            assert secret not in output
            assert hash_token(secret) not in output
    assert {"id", "team", "name", "role", "created_at", "revoked_at"} == set(listed[0])


def test_a_token_revoked_by_the_cli_is_refused(admin_server):
    name = unique("team-revoke")
    scaler(admin_server, "team", "create", name)
    unused = json.loads(scaler(admin_server, "token", "create", "--team", name, "--json").stdout)
    used = json.loads(scaler(admin_server, "token", "create", "--team", name, "--json").stdout)
    with admin_server.client(used["token"]) as client:
        assert client.get("/v1/jobs").status_code == 200  # remembered by the server for a while
        for token in (unused, used):
            revoked = scaler(admin_server, "token", "revoke", str(token["id"]))
            assert revoked.exit_code == 0, revoked.output
            assert "revoked" in revoked.stdout
        with admin_server.client(unused["token"]) as never_used:
            assert never_used.get("/v1/jobs").status_code == 401
        # another process revoked it: this server stops accepting it once its cache forgets it
        assert wait_for_status(client, "/v1/jobs", 401, CACHE_SECONDS + 10) == 401
    listed = json.loads(scaler(admin_server, "token", "list", "--json").stdout)["items"]
    assert all(found["revoked_at"] for found in listed if found["id"] in (unused["id"], used["id"]))
    missing = scaler(admin_server, "token", "revoke", "999999")
    assert (missing.exit_code, missing.stderr.strip()) == (2, "error: id: no token 999999")


def test_tokens_are_stored_hashed(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        issued = admin.post("/v1/admin/tokens", json={"team": "team-a", "name": "hashed"}).json()
    from_cli = json.loads(scaler(admin_server, "token", "create", "--team", "team-a", "--json").stdout)
    stored = stored_tokens(admin_server)
    hashes = {token_hash for token_hash, _ in stored}
    for token in (issued["token"], from_cli["token"], ADMIN_TOKEN):
        assert hash_token(token) in hashes
        assert all(token not in token_hash and token not in name for token_hash, name in stored)


def test_the_default_token_is_an_admin_token(tmp_path):
    """SCALER_TOKEN, or the token generated at first start, may administer the server."""
    from api.auth import ensure_default_token

    url = f"sqlite:///{tmp_path / 'scaler.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    generated = ensure_default_token(factory, None)
    assert generated is not None
    assert ensure_default_token(factory, None) is None  # only when the database holds no token
    ensure_default_token(factory, "configured")
    with factory() as session:
        for token in (generated, "configured"):
            caller = team_for_token(session, token)
            assert caller is not None
            assert (caller.name, caller.admin) == ("default", True)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_upgrading_makes_the_default_teams_tokens_admin_and_downgrading_drops_revoked_ones(database_url):
    upgrade(database_url, "0004")
    engine = create_engine(normalise_url(database_url))
    statements = [
        "INSERT INTO teams (id, name, created_at) VALUES (1, 'default', CURRENT_TIMESTAMP)",
        "INSERT INTO teams (id, name, created_at) VALUES (2, 'other', CURRENT_TIMESTAMP)",
        "INSERT INTO api_tokens (team_id, token_hash, name, created_at)"
        " VALUES (1, 'h1', 'x', CURRENT_TIMESTAMP)",
        "INSERT INTO api_tokens (team_id, token_hash, name, created_at)"
        " VALUES (2, 'h2', 'x', CURRENT_TIMESTAMP)",
        "INSERT INTO api_tokens (team_id, token_hash, name, created_at)"
        " VALUES (2, 'h3', 'x', CURRENT_TIMESTAMP)",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    upgrade(database_url)
    with engine.begin() as connection:
        roles = dict(connection.execute(text("SELECT token_hash, role FROM api_tokens")).all())
        connection.execute(
            text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE token_hash = 'h2'")
        )
    assert roles == {"h1": "admin", "h2": "member", "h3": "member"}
    downgrade(database_url, "0004")
    with engine.connect() as connection:
        remaining = (
            connection.execute(text("SELECT token_hash FROM api_tokens ORDER BY token_hash")).scalars().all()
        )
    engine.dispose()
    assert remaining == ["h1", "h3"]  # the older schema would take a revoked token for a valid one
