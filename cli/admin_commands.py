"""Server-side administration: ``team create|list`` and ``token create|list|revoke``, run on the
machine that holds the database (SCALER_DATABASE_URL, or the SQLite file in the data dir), after
migrating it. Admin tokens do the same over REST (``/v1/admin``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_ID = 2**31 - 1


def data_dir_option(function: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Default: SCALER_DATA_DIR or runs/scaler (its scaler.db unless SCALER_DATABASE_URL is set).",
    )(function)


def _admin_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A bad request: one line ``error: FIELD: message`` and exit status 2; an unreachable
    database: ``error: database: …`` and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import OperationalError

        from api.admin import AdminError

        try:
            return command(*args, **kwargs)
        except AdminError as error:
            click.echo(f"error: {error.field}: {error.message}", err=True)
            raise SystemExit(2) from error
        except OperationalError as error:
            reason = str(error.orig or error).strip().splitlines()[0]
            click.echo(f"error: database: {reason}", err=True)
            raise SystemExit(1) from error

    return wrapper


@contextmanager
def _database(data_dir: Path | None) -> Iterator[Session]:
    """A session on the configured database, migrated to the latest schema first."""
    from api.db.migrate import upgrade
    from api.db.session import make_engine, make_session_factory
    from api.settings import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if not settings.database_url:  # the SQLite file in the data dir
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _plain(value: Any) -> dict[str, Any]:
    """A TeamInfo / TokenInfo as JSON-ready values (times in ISO 8601)."""
    return {
        key: item.isoformat() if hasattr(item, "isoformat") else item
        for key, item in dataclasses.asdict(value).items()
    }


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


@click.group()
def team() -> None:
    """Teams (on the server's database; admin tokens: /v1/admin/teams)."""


@team.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
@_admin_errors
def team_create(name: str, as_json: bool, data_dir: Path | None) -> None:
    """Create the team NAME (1-200 characters, no control characters)."""
    from api.admin import create_team

    with _database(data_dir) as session:
        created = create_team(session, name)
    click.echo(json.dumps(_plain(created)) if as_json else f"team {created.name} created (id {created.id})")


@team.command("list")
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
@_admin_errors
def team_list(as_json: bool, data_dir: Path | None) -> None:
    """Every team, with its number of tokens not revoked."""
    from api.admin import list_teams

    with _database(data_dir) as session:
        teams = list_teams(session)
    if as_json:
        click.echo(json.dumps({"items": [_plain(found) for found in teams]}))
        return
    click.echo(f"{'id':>6} {'tokens':>6}  {'created':19}  name")
    for found in teams:
        click.echo(f"{found.id:>6} {found.active_tokens:>6}  {_time(found.created_at):19}  {found.name}")


@click.group()
def token() -> None:
    """API tokens (on the server's database; admin tokens: /v1/admin/tokens). Only a token's
    SHA-256 is stored: it is shown once, when created."""


@token.command("create")
@click.option("--team", "team_name", required=True, help="An existing team (`scaler team create`).")
@click.option("--name", "label", default="default", show_default=True, help="A label for the token.")
@click.option("--admin", is_flag=True, help="May also manage teams and tokens (/v1/admin).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, the token in `token`.")
@data_dir_option
@_admin_errors
def token_create(team_name: str, label: str, admin: bool, as_json: bool, data_dir: Path | None) -> None:
    """Create a token for a team and print it: once, it cannot be shown again."""
    from api.admin import issue_token

    with _database(data_dir) as session:
        issued = issue_token(session, team_name, label, admin)
    if as_json:
        click.echo(json.dumps({**_plain(issued.info), "token": issued.token}))
        return
    info = issued.info
    click.echo(issued.token)
    click.echo(
        f"token {info.id} ({info.role}, label {info.name!r}) for team {info.team}: "
        "store it now, it is not shown again",
        err=True,
    )


@token.command("list")
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
@_admin_errors
def token_list(as_json: bool, data_dir: Path | None) -> None:
    """Every token with its team, label, role and times (never the token or its hash)."""
    from api.admin import list_tokens

    with _database(data_dir) as session:
        tokens = list_tokens(session)
    if as_json:
        click.echo(json.dumps({"items": [_plain(found) for found in tokens]}))
        return
    click.echo(f"{'id':>6} {'role':6}  {'created':19}  {'revoked':19}  team / label")
    for found in tokens:
        click.echo(
            f"{found.id:>6} {found.role:6}  {_time(found.created_at):19}  {_time(found.revoked_at):19}  "
            f"{found.team} / {found.name}"
        )


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(1, MAX_ID))
@click.option("--json", "as_json", is_flag=True)
@data_dir_option
@_admin_errors
def token_revoke(token_id: int, as_json: bool, data_dir: Path | None) -> None:
    """Revoke token ID (see `scaler token list`): refused from then on. A running server may
    accept it for up to SCALER_TOKEN_CACHE_SECONDS more (10 s by default)."""
    from api.admin import revoke_token

    with _database(data_dir) as session:
        revoked = revoke_token(session, token_id)
    if as_json:
        click.echo(json.dumps(_plain(revoked)))
        return
    click.echo(f"token {revoked.id} of team {revoked.team} revoked at {_time(revoked.revoked_at)}")
