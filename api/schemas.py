"""Response models of the REST API."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator

from api.job_states import JobState
from search_spaces.budget import MAX_TRIAL_EPOCHS, MAX_TRIALS
from search_spaces.devices import TargetDevice
from search_spaces.job import NAME_MAX_LENGTH, NAME_PATTERN
from search_spaces.names import PATH_MAX_LENGTH
from workers.api import SearchTrial


def as_utc(value: dt.datetime) -> dt.datetime:
    """Timestamps are stored in UTC; SQLite hands them back without a timezone."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# every timestamp the API serves: timezone-aware UTC (RFC 3339 with "Z"), whatever the database
UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]


class Created(BaseModel):
    id: str


class ExtendIn(BaseModel):
    """More budget for a finished job (``POST /v1/jobs/{id}/extend``): its search goes on with the
    same searcher, scheduler and weights."""

    model_config = ConfigDict(extra="forbid")

    trials: int = Field(ge=1, le=MAX_TRIALS, description="trials to add to budget.max_trials")
    trial_epochs: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRIAL_EPOCHS,
        description="trial-epochs to add to budget.max_trial_epochs (when the job has one)",
    )


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: JobState
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


class LatencyPredictorOut(BaseModel):
    """The device's latency model in this job (``workers.search.predictor.predictor_summary``):
    sampled points it screened out before they became trials, candidates it rejected unbuilt, and
    its predictions against the measurements of the others."""

    screened: int  # sampled points predicted too slow, told to the searcher and never trained
    rejected: int
    compared: int
    within: float | None  # share of the compared predictions within ±10 % of the measurement
    median_error: float | None  # median |predicted / measured − 1|


class JobStatus(JobOut):
    progress: float  # finished trials / trial budget
    budget_epochs: int
    latency_predictor: LatencyPredictorOut
    waiting: str | None = None  # a queued job: why it has not started yet (api.fair_share)


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


# the fields of a trial's record the API does not serve: where this server keeps its checkpoint
# (a path of the server's disk; the export route reads it) and the search's clock
NOT_SERVED = frozenset({"checkpoint", "finished_at"})


def record_model(name: str, record: type, left_out: frozenset[str], **extra: Any) -> type[BaseModel]:
    """A response model with a field per field of a record dataclass (its types), less
    ``left_out``, plus ``extra`` (``name=(type, default)``): a new field of the record is served
    without an edit here."""
    hints = get_type_hints(record)
    fields: dict[str, Any] = {
        item.name: (hints[item.name], ...) for item in dataclasses.fields(record) if item.name not in left_out
    }
    return create_model(name, __config__=ConfigDict(from_attributes=True), **fields, **extra)


# a trial as served: its record (``workers.search.outcome.SearchTrial``) and the device-hours its
# row adds. ``latency_spread`` > 1.25: the latency was timed while the machine was busy;
# ``initialised_from``: the job's training.initial_weights as given, "supernet" or "trial:<parent>"
TrialOut = record_model("TrialOut", SearchTrial, NOT_SERVED, device_hours=(float, ...))


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


class DeviceOut(TargetDevice):
    """A target device as served: its fields (``search_spaces.devices.TargetDevice``, the one
    definition) and whether it ships with Scaler (``preset``) or was registered with this service."""

    preset: bool


IMPORT_MAX_TRIALS = 1000  # results one request may import
SOURCE_MAX_LENGTH = 500
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class MeasuredResultIn(BaseModel):
    """One network measured outside the job (another run, another service), imported as a result:
    it joins the job's trials (origin ``imported``) and front, and its searcher learns from it."""

    model_config = ConfigDict(extra="forbid")

    point: dict[str, int | float | str] = Field(
        max_length=64,
        description="the network's scaling parameters, named as in the job's space without 'arch/' "
        "(family, input_size, stages, depth_multiple, width_multiple, activation, depth_exponent_N); "
        "every one the space searches is required, the others take the space's only value",
    )
    hyperparameters: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        max_length=64,
        description="the hyperparameters it trained with (reference names, within the meta table's "
        "limits; a searched one within the job's range); the others: the job's base values",
    )
    ap: float = Field(ge=0, le=1, allow_inf_nan=False, description="AP@[.5:.95] on the job's dataset")
    ap50: float | None = Field(
        default=None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="required when the job optimises ap50 or fitness",
    )
    latency_ms: float = Field(gt=0, le=1e9, allow_inf_nan=False, description="on the job's latency device")
    latency_nms_ms: float | None = Field(
        default=None,
        gt=0,
        le=1e9,
        allow_inf_nan=False,
        description="with NMS: required when the job optimises it",
    )
    params: int | None = Field(default=None, ge=1, le=2**31 - 1)
    gflops: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    device: str = Field(
        min_length=1,
        max_length=63,
        description="where latency_ms was timed: the job's objectives.latency.device",
    )
    weights: str | None = Field(
        default=None,
        min_length=1,
        max_length=PATH_MAX_LENGTH,
        description="its trained weights on the server, inside the data roots (a Scaler export's "
        "folder or weights.pt, or a checkpoint that carries its model yaml): what its export loads",
    )
    source: str | None = Field(
        default=None, min_length=1, max_length=SOURCE_MAX_LENGTH, description="where it was measured (shown)"
    )

    @field_validator("source")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("no control characters (newlines, tabs, escapes)")
        return value


class ImportIn(BaseModel):
    """``POST /v1/jobs/{id}/trials/import``: results measured outside the job."""

    model_config = ConfigDict(extra="forbid")

    trials: list[MeasuredResultIn] = Field(min_length=1, max_length=IMPORT_MAX_TRIALS)


class ImportOut(BaseModel):
    trial_ids: list[str]  # the imported trials' ids, in the order given
    front: list[str]  # the job's front with them
    hypervolume: float | None
