"""Validation at the door: a job is queued only if its spec, dataset and budget are acceptable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from api.auth import Caller
from api.db.models import DatasetRecord, Job
from api.errors import FieldError
from api.settings import Settings
from search_spaces import JobSpec, SpecLoadError, parse_job_spec
from workers.data.dataset import DatasetError
from workers.data.open import open_dataset

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def parse_body(body: bytes, content_type: str) -> JobSpec:
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind in YAML_TYPES:
            document: Any = yaml.safe_load(body.decode("utf-8") or "{}")
        elif kind in ("application/json", ""):
            document = yaml.safe_load(body.decode("utf-8") or "{}")  # JSON is YAML
        else:
            raise FieldError("content-type", f"send the job spec as JSON or YAML, not {kind}", 415)
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise FieldError("body", f"not valid JSON/YAML: {error}", 400) from None
    if isinstance(document, dict) and "preset" in document:
        from search_spaces import load_job_spec

        overrides = {key: value for key, value in document.items() if key != "preset"}
        try:
            base = load_job_spec(str(document["preset"])).model_dump()
        except SpecLoadError as error:
            raise FieldError("preset", error.message) from None
        document = {**base, **overrides}
    try:
        return parse_job_spec(document)
    except SpecLoadError as error:
        raise FieldError(error.field or "body", error.message) from None


def resolve_dataset(value: str, session: Session, team: Caller, settings: Settings) -> Path:
    """A registered dataset id of the team, or a server path inside the allowed data roots."""
    if not value:
        raise FieldError("dataset", "required: a registered dataset id or a server path")
    if "\x00" in value or len(value) > 4096:
        raise FieldError("dataset", "not a path: NUL characters or longer than 4096 characters")
    record = session.get(DatasetRecord, value)
    if record is not None and record.team_id == team.id:
        return Path(record.path)
    path = Path(value).resolve()  # a server path: no ~ expansion (whose home would it be?)
    if not any(path == root or root in path.parents for root in settings.allowed_roots()):
        roots = ", ".join(str(root) for root in settings.allowed_roots())
        raise FieldError("dataset", f"{value} is outside the allowed data roots ({roots})", 403)
    try:
        open_dataset(path)
    except DatasetError as error:
        raise FieldError("dataset", str(error)) from None
    return path


def check_limits(spec: JobSpec, settings: Settings) -> None:
    budget = spec.budget
    for field, value, limit in (
        ("budget.max_trials", budget.max_trials, settings.max_trials),
        ("budget.epochs_per_trial", budget.epochs_per_trial, settings.max_epochs_per_trial),
        ("budget.max_concurrent_trials", budget.max_concurrent_trials, settings.max_concurrent_trials),
    ):
        if value > limit:
            raise FieldError(field, f"{value} is over this server's limit of {limit}")


def check_warm_start(spec: JobSpec, session: Session, team: Caller) -> None:
    for index, job_id in enumerate(spec.warm_start_from):
        job = session.get(Job, job_id)
        if job is None or job.team_id != team.id:
            raise FieldError(f"warm_start_from[{index}]", f"no job {job_id!r}")


def validated_spec(
    body: bytes, content_type: str, session: Session, team: Caller, settings: Settings
) -> JobSpec:
    spec = parse_body(body, content_type)
    dataset = resolve_dataset(spec.dataset, session, team, settings)
    check_limits(spec, settings)
    check_warm_start(spec, session, team)
    return spec.with_changes(dataset=str(dataset))
