"""Service settings from the environment (prefix ``SCALER_``); built by ``get_settings()``, never
at import time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.webhook_targets import AllowedHosts, allowed_entry

# a team's name as the teams table holds it (what the per-team settings are keyed by)
TeamName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# per team: a JSON object in the environment, read by ``_json_object`` (strict: 2, not "2" or 2.0)
TeamJobLimits = Annotated[dict[TeamName, Annotated[int, Field(strict=True, ge=1)]], NoDecode]
TeamPriorities = Annotated[dict[TeamName, Annotated[int, Field(strict=True)]], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCALER_", extra="ignore")

    data_dir: Path = Path("runs/scaler")
    database_url: str | None = None  # default: SQLite file in data_dir
    mlflow_tracking_uri: str | None = None  # default: SQLite store in data_dir
    ray_address: str | None = None  # default: a local Ray started by the scheduler
    token: str | None = None  # the default team's token (created and printed when missing)
    # folders datasets may be read from (default: data_dir); uploads (data_dir/datasets) always are
    data_roots: list[Path] = Field(default_factory=list)
    max_trials: int = 10_000
    max_epochs_per_trial: int = 1_000
    max_concurrent_trials: int = 64
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_spec_bytes: int = Field(default=1024 * 1024, ge=1)  # a job spec's body (a few kB in practice)
    run_scheduler: bool = True  # a scheduler thread inside the API process
    scheduler_poll_seconds: float = 1.0
    scheduler_stale_seconds: float = 60.0  # a running job whose heartbeat is older is taken over
    scheduler_max_jobs: int = Field(default=1, ge=1)  # jobs one scheduler runs at once
    # fair share between teams (api/fair_share.py): the jobs a team may have running at once
    # (None: no limit but the schedulers' slots), that limit for named teams, and the teams'
    # priorities (default 0; higher is claimed first), by team name
    team_max_jobs: int | None = Field(default=None, ge=1)
    team_max_jobs_overrides: TeamJobLimits = Field(default_factory=dict)
    team_priorities: TeamPriorities = Field(default_factory=dict)
    token_cache_seconds: float = 10.0  # a deleted token keeps working this long (per process)
    request_threads: int = Field(default=16, ge=1, le=256)  # per process; = database connections kept
    mlflow_ui_url: str | None = None  # e.g. http://mlflow:5000: dashboards link trials to their runs
    # where a job's webhook may be called besides public addresses (api/webhook_targets.py): host
    # names, IP addresses and CIDR networks, comma-separated in the environment
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("team_max_jobs_overrides", "team_priorities", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        """The environment's text as a JSON object (``{"team": 2}``); a mapping passes as it is."""
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f'not JSON ({error.msg}): write an object such as {{"team-a": 2}}') from None
        if not isinstance(parsed, dict):
            raise ValueError('a JSON object of team names, such as {"team-a": 2}')
        return parsed

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        """The environment's text split at commas (empty: none), each entry checked and normalised."""
        if isinstance(value, str):
            value = value.split(",") if value.strip() else []
        if isinstance(value, list | tuple) and all(isinstance(entry, str) for entry in value):
            return tuple(allowed_entry(entry) for entry in value)
        return value  # the field's type refuses it

    def webhook_allowed(self) -> AllowedHosts:
        return AllowedHosts.of(self.webhook_allowed_hosts)

    def team_max_jobs_of(self, team: str) -> int | None:
        """The jobs ``team`` may have running at once (None: no limit of its own)."""
        return self.team_max_jobs_overrides.get(team, self.team_max_jobs)

    def team_priority_of(self, team: str) -> int:
        return self.team_priorities.get(team, 0)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'scaler.db').resolve()}"

    def resolved_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    def process_environment(self) -> dict[str, str]:
        """These settings as the environment of another process (a job's runner) that reads them
        back with ``get_settings()``: whatever the command line changed travels too."""
        environment = {
            "SCALER_DATA_DIR": str(self.data_dir.resolve()),
            "SCALER_DATABASE_URL": self.resolved_database_url(),
            "SCALER_MLFLOW_TRACKING_URI": self.resolved_tracking_uri(),
            "SCALER_DATA_ROOTS": json.dumps([str(root) for root in self.allowed_roots()]),
            "SCALER_WEBHOOK_ALLOWED_HOSTS": ",".join(self.webhook_allowed_hosts),
        }
        if self.ray_address:
            environment["SCALER_RAY_ADDRESS"] = self.ray_address
        return environment

    def uploads_dir(self) -> Path:
        return (self.data_dir / "datasets").resolve()

    def allowed_roots(self) -> list[Path]:
        """Every file a job reads lies inside one of these (resolved, uploads included)."""
        roots = [root.resolve() for root in (self.data_roots or [self.data_dir])]
        uploads = self.uploads_dir()
        covered = any(uploads == root or root in uploads.parents for root in roots)
        return roots if covered else [*roots, uploads]


class InvalidSettingsError(ValueError):
    """A ``SCALER_`` variable that does not hold what its setting needs: each one named."""


def get_settings() -> Settings:
    """The settings from the environment; ``InvalidSettingsError`` names every malformed variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            field, *inside = item["loc"]
            where = "".join(f"[{part!r}]" for part in inside if part != "[key]")
            what = "the team name" if "[key]" in inside else f"got {item['input']!r}"
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"SCALER_{str(field).upper()}{where}: {message} ({what})")
        raise InvalidSettingsError("; ".join(problems)) from None
