"""SQLAlchemy models: teams and their tokens, datasets, target devices and the latency measured on
them, jobs, their trials and their events."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from api.job_states import JobState


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """Only the SHA-256 of a token is stored. The role belongs to the token, not to its team: a
    team can hold an admin token for its operator and member tokens for its jobs, and one admin
    token is revoked without touching the team's others. A revoked token is kept (its row says
    when) and refused."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="default")
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DatasetRecord(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    layout: Mapped[str] = mapped_column(String(16))
    num_classes: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[list[Any]] = mapped_column(JSON)
    train_images: Mapped[int] = mapped_column(Integer)
    val_images: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeviceRecord(Base):
    """A target device registered with the service (``search_spaces.devices.TargetDevice``, the
    one definition of its fields and their rules); the presets are not stored. Every team may name
    it in a job; only an admin token registers one. ``created_by``: the registering team."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    runtime: Mapped[str] = mapped_column(String(32))
    precision: Mapped[str] = mapped_column(String(16))
    batch: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LatencyMeasurement(Base):
    """A stable latency measurement of a network on a device (``workers.latency_cache``): what a
    later job on that device reuses instead of timing the network again. ``key``: the measurement's
    cache key (network and settings); ``device``: the registered device's name, else the kind of
    the trial's own device (``cache_scope``: which entries a job preloads); ``device_name``: the
    hardware; ``stats``: the whole measurement (``LatencyStats.to_dict``)."""

    __tablename__ = "latency_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    device: Mapped[str] = mapped_column(String(63), index=True)
    device_name: Mapped[str] = mapped_column(String(200))
    runtime: Mapped[str] = mapped_column(String(32))
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobState.QUEUED.value)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    resume_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trials_total: Mapped[int] = mapped_column(Integer, default=0)
    trials_finished: Mapped[int] = mapped_column(Integer, default=0)
    epochs_used: Mapped[int] = mapped_column(Integer, default=0)
    device_hours: Mapped[float] = mapped_column(Float, default=0.0)
    hypervolume: Mapped[float | None] = mapped_column(Float, nullable=True)
    front: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hypervolume_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mlflow_experiment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # bumped on every change to the job or its trials (heartbeats aside): the ETag of its reads
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    trials: Mapped[list[TrialRecord]] = relationship(back_populates="job", cascade="all, delete-orphan")


class TrialRecord(Base):
    """A trial's row: a column per field of its record (``workers.search.outcome.SearchTrial``,
    the one definition; ``tests/test_trial_record.py`` checks they match), and the compute it used."""

    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("job_id", "trial_id", name="uq_trials_job_trial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    point: Mapped[dict[str, Any]] = mapped_column(JSON)
    epochs: Mapped[int] = mapped_column(Integer, default=0)
    ap: Mapped[float] = mapped_column(Float, default=0.0)
    ap50: Mapped[float] = mapped_column(Float, default=0.0)
    fitness: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_nms_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # highest over lowest round median of the latency timing; > 1.25: timed on a busy machine
    latency_spread: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the whole measurement (``LatencyStats.to_dict``): median, p95, rounds, device, runtime, …
    latency_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # the device's latency model's prediction, made before the network was built
    latency_predicted_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    params: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gflops: Mapped[float | None] = mapped_column(Float, nullable=True)
    image_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    anchors: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the anchor fit's best possible recall before and after; NULL: no fit ran
    anchor_recall_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    anchor_recall_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    checkpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the parent trial whose trained weights this one started from (evolution.inherit_weights)
    inherited_from: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # what its weights started from: the job's training.initial_weights as given, "supernet", or
    # "trial:<parent>" (an evolve child); and the share (0–1) of its parameter values taken from there
    initialised_from: Mapped[str | None] = mapped_column(Text, nullable=True)  # a path: up to 4096
    inherited_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    # searched (trained by the job), imported or warm_start (``TrialOrigin``); and where a result
    # the job did not train comes from (an import's source text, "job:<job>/<trial>")
    origin: Mapped[str] = mapped_column(String(16), default="searched", server_default="searched")
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # wall time held
    device_hours: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    job: Mapped[Job] = relationship(back_populates="trials")


class JobEvent(Base):
    """One thing that happened to a job, as ``GET /v1/jobs/{id}/events`` streams it (``api.events``:
    the kinds and their payloads). ``id``: the event's SSE id, increasing in the order the events
    were written, which a client that reconnects sends back (``Last-Event-ID``) to get only later
    ones; kept with the job, so a resume works across reconnects and server restarts."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
