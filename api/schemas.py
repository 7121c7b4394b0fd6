"""Response models of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from search_spaces.job import NAME_MAX_LENGTH, NAME_PATTERN


def as_utc(value: dt.datetime) -> dt.datetime:
    """Timestamps are stored in UTC; SQLite hands them back without a timezone."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# every timestamp the API serves: timezone-aware UTC (RFC 3339 with "Z"), whatever the database
UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]


class Created(BaseModel):
    id: str


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: str
    error: str | None
    created_by: str
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    trials_total: int
    trials_finished: int
    epochs_used: int
    device_hours: float
    hypervolume: float | None
    front: list[Any]
    cancel_requested: bool
    mlflow_run_id: str | None
    mlflow_experiment_id: str | None
    best_ap: float | None = None  # the best accuracy among measured trials
    spec: dict[str, Any]


class JobStatus(JobOut):
    progress: float  # finished trials / trial budget
    budget_epochs: int


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class TrialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    trial_id: str
    status: str
    point: dict[str, Any]
    epochs: int
    ap: float
    ap50: float
    fitness: float
    latency_ms: float | None
    latency_nms_ms: float | None
    latency_spread: float | None  # > 1.25: the latency was timed while the machine was busy
    params: int | None
    gflops: float | None
    image_size: int | None
    anchors: str | None
    error: str | None
    mlflow_run_id: str | None
    inherited_from: str | None  # the parent trial whose weights it started from
    # what its weights started from: the job's training.initial_weights as given, "supernet", or
    # "trial:<parent>"; and the share (0–1) of its parameter values taken from there
    initialised_from: str | None
    inherited_share: float | None
    seconds: float
    device_hours: float
    history: list[Any]


class TrialList(BaseModel):
    items: list[TrialOut]
    total: int
    limit: int
    offset: int


class Pareto(BaseModel):
    front: list[TrialOut]
    infeasible: list[TrialOut]
    # every measured trial: trial_id, status, ap, ap50, latency_ms, latency_nms_ms, params, gflops,
    # image_size, point (the scaling point and hyperparameters) and on_front
    points: list[dict[str, Any]]
    hypervolume: float | None
    hypervolume_history: list[float]


class Usage(BaseModel):
    """A team's compute: device-hours are wall time × devices held (GPUs, else CPUs) per trial."""

    team: str
    jobs: int
    trials: int
    gpu_hours: float
    cpu_hours: float
    device_hours_by_status: dict[str, float]


class ServiceInfo(BaseModel):
    version: str
    mlflow_ui_url: str | None  # trial links: {mlflow_ui_url}/#/experiments/{experiment}/runs/{run}


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)
    path: str = Field(min_length=1, max_length=4096)


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    path: str
    layout: str
    num_classes: int
    class_names: list[Any]
    train_images: int
    val_images: int


class PresetOut(BaseModel):
    name: str
    spec: dict[str, Any]
