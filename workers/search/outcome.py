"""Typed records of a search: one ``SearchTrial`` per trial and the ``SearchResult``."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from search_spaces import Objectives, Point
from search_spaces.pareto import REFERENCE_MARGIN, hypervolume, hypervolume_history, pareto_front
from workers.results import MEASURED_STATUSES, LatencyStats, TrialStatus


class TrialOrigin(StrEnum):
    """Where a trial's result comes from: ``searched``, a point the job's search proposed (its
    ``space.initial_points`` and retrained warm-start points included) and trained; ``imported``,
    measured elsewhere and posted to the job (``POST /v1/jobs/{id}/trials/import``); ``warm_start``,
    an earlier job's measured trial reused (same dataset and latency device). Only a searched trial
    was trained by the job: the others cost it nothing, count on no budget, and are told to its
    searcher as completed trials (``workers.search.searchers.KnownResults``)."""

    SEARCHED = "searched"
    IMPORTED = "imported"
    WARM_START = "warm_start"

    @property
    def trained(self) -> bool:
        """Whether the job trained the trial itself."""
        return self is TrialOrigin.SEARCHED


@dataclass(frozen=True)
class SearchTrial:
    """One trial of a search as it stands: the one definition of a trial's record. The database
    row (``api.db.models.TrialRecord``: a column per field), the API's ``TrialOut`` (derived from
    these fields), the MLflow run (``mlflow_fields``), the dashboard's trial drawer and the
    export's metrics.json all take their fields from here; ``tests/test_trial_record.py`` lists
    them on every layer. A new field: one edit here, a column and its migration."""

    trial_id: str
    status: TrialStatus
    point: Point
    epochs: int = 0
    ap: float = 0.0
    ap50: float = 0.0
    fitness: float = 0.0
    latency_ms: float | None = None
    latency_nms_ms: float | None = None
    latency_spread: float | None = None  # highest over lowest round median of the timing
    # the whole measurement behind latency_ms: median, p95, rounds, device, runtime, precision, …
    latency_stats: LatencyStats | None = None
    # the device's latency model's prediction before anything was built (None: no model)
    latency_predicted_ms: float | None = None
    params: int | None = None
    gflops: float | None = None
    image_size: int | None = None
    anchors: str | None = None  # fitted to the data, JSON per level; None: the network's own
    # the anchor fit's best possible recall before and after (``TrialReport``); None: no fit ran
    anchor_recall_before: float | None = None
    anchor_recall_after: float | None = None
    error: str | None = None
    checkpoint: str | None = None
    finished_at: float | None = None  # unix time of the last report
    seconds: float = 0.0  # wall time the trial held its resources
    mlflow_run_id: str | None = None
    history: tuple[dict[str, float], ...] = ()
    inherited_from: str | None = None  # the parent trial whose weights it started from
    # what its weights started from: the job's training.initial_weights as given, "supernet", or
    # "trial:<parent>" (an evolve child); and the share of its parameter values taken from there
    initialised_from: str | None = None
    inherited_share: float | None = None
    origin: TrialOrigin = TrialOrigin.SEARCHED
    # where a result the job did not train comes from: an import's ``source`` text, or
    # "job:<job>/<trial>" for a warm start; None for a searched trial
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", TrialStatus(self.status))
        object.__setattr__(self, "origin", TrialOrigin(self.origin))

    def accuracy(self, objectives: Objectives) -> float:
        return float(getattr(self, objectives.accuracy))

    def latency(self, objectives: Objectives) -> float | None:
        return self.latency_nms_ms if objectives.latency.include_nms else self.latency_ms

    def objective_vector(self, objectives: Objectives) -> tuple[float, float] | None:
        latency = self.latency(objectives)
        if self.status not in MEASURED_STATUSES or latency is None:
            return None
        return (-self.accuracy(objectives), float(latency))

    @property
    def latency_unstable(self) -> bool:
        """Whether its latency measurement's rounds disagree (``LatencyStats.stable``): a busy
        machine's figure, kept off the front until timed again (``workers.search.remeasure``)."""
        return self.latency_stats is not None and not self.latency_stats.stable

    def front_vector(self, objectives: Objectives) -> tuple[float, float] | None:
        """The objective vector it takes part in the front and the reference with: none while its
        latency is unstable (it still counts as a measured trial)."""
        return None if self.latency_unstable else self.objective_vector(objectives)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (what the database row and the API hold)."""
        document = {name: getattr(self, name) for name in RECORD_FIELDS}
        document["status"] = self.status.value
        document["origin"] = self.origin.value
        document["point"] = dict(self.point)
        document["history"] = [dict(row) for row in self.history]
        document["latency_stats"] = self.latency_stats.to_dict() if self.latency_stats else None
        return document

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchTrial:
        """The record from ``to_dict``'s values (or a database row's columns)."""
        document = {name: values[name] for name in RECORD_FIELDS if name in values}
        stats = document.get("latency_stats")
        document["latency_stats"] = LatencyStats.from_dict(stats) if stats else None
        document["history"] = tuple(document.get("history") or ())
        return cls(**document)

    def mlflow_fields(self) -> tuple[dict[str, float], dict[str, str]]:
        """What the trial's MLflow run holds at its end: ``final_*`` metrics (every number of the
        record, the latency measurement's figures as ``final_latency_*``) and ``scaler.*`` tags
        (every text of the record, and the measurement's device, runtime and settings)."""
        metrics: dict[str, float] = {}
        tags: dict[str, str] = {}
        for name in RECORD_FIELDS:
            value = getattr(self, name)
            if name in MLFLOW_LEFT_OUT or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                continue
            if isinstance(value, str):
                tags[f"scaler.{name}"] = value[:5000]
            else:
                metrics[f"final_{name}"] = float(value)
        if self.latency_stats is not None:
            for key, value in self.latency_stats.to_dict().items():
                if isinstance(value, bool) or value is None:
                    tags[f"scaler.latency.{key}"] = str(value)
                elif isinstance(value, int | float):
                    metrics[f"final_latency_{key}"] = float(value)
                else:
                    tags[f"scaler.latency.{key}"] = str(value)
        return metrics, tags


# every field of a trial's record, in order (``trial_id`` first)
RECORD_FIELDS: tuple[str, ...] = tuple(item.name for item in dataclasses.fields(SearchTrial))
# not on the MLflow run as metrics or tags: the run already holds them another way (the run's
# name and parameters, its per-epoch metrics, its own id), or they are this server's paths
MLFLOW_LEFT_OUT = frozenset({"trial_id", "point", "history", "mlflow_run_id", "checkpoint", "finished_at"})


@dataclass(frozen=True)
class SearchResult:
    trials: tuple[SearchTrial, ...]
    front: tuple[str, ...]  # trial ids on the Pareto front, fastest first
    hypervolume: float
    hypervolume_history: tuple[float, ...]  # after each finished trial, in order of finishing
    reference: tuple[float, float]  # (−accuracy, latency ms) of the hypervolume
    experiment_path: str
    mlflow_run_id: str | None = None
    export_dir: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trials": [trial.to_dict() for trial in self.trials],
            "front": list(self.front),
            "hypervolume": self.hypervolume,
            "hypervolume_history": list(self.hypervolume_history),
            "reference": list(self.reference),
            "experiment_path": self.experiment_path,
            "mlflow_run_id": self.mlflow_run_id,
            "export_dir": self.export_dir,
        }


def reference_point(trials: list[SearchTrial], objectives: Objectives) -> tuple[float, float]:
    """(AP 0, latency): ``reference_latency_ms``, else ``max_latency_ms``, else 1.1 × the slowest
    measured latency (so that every measured point adds volume; an unstable one never sets it)."""
    latency = objectives.configured_reference_latency_ms
    if latency is None:
        timed = [t.latency(objectives) for t in trials if not t.latency_unstable]
        measured = [value for value in timed if value is not None]
        latency = REFERENCE_MARGIN * max(measured) if measured else 1.0  # type: ignore[type-var]
    return (0.0, float(latency))  # type: ignore[arg-type]


def summarise(
    trials: list[SearchTrial], objectives: Objectives
) -> tuple[tuple[str, ...], float, tuple[float, ...], tuple[float, float]]:
    """Front (trial ids, fastest first), hypervolume, its history and the reference point. A trial
    whose latency is unstable (``SearchTrial.front_vector``) neither joins the front nor adds volume."""
    ordered = sorted(trials, key=lambda t: t.finished_at or 0.0)
    measured = [(t, t.front_vector(objectives)) for t in ordered]
    points = [(t, v) for t, v in measured if v is not None]
    reference = reference_point(trials, objectives)
    vectors = [v for _, v in points]
    front = sorted((points[i] for i in pareto_front(vectors)), key=lambda item: item[1][1])
    history: list[float] = []
    volumes = hypervolume_history(vectors, reference) if vectors else []
    index = 0
    for _, vector in measured:  # one entry per finished trial; unmeasured ones repeat the last value
        if vector is not None:
            index += 1
        history.append(volumes[index - 1] if index else 0.0)
    return (
        tuple(t.trial_id for t, _ in front),
        hypervolume(vectors, reference),
        tuple(history),
        reference,
    )


# a trial the device's latency model refused unbuilt (``workers.search.predictor``): its reason
# begins so; a job shows the share of predictions within ±10 % of the measurement
PREDICTOR_REJECTED = "predicted latency"
PREDICTOR_TOLERANCE = 0.10
SCREENED_FILE = "screened.jsonl"  # a search's points screened out by the latency model


def screened_count(search_dir: str | Path) -> int:
    """How many sampled points the search in ``search_dir`` screened out with the latency model
    before they became trials (``workers.search.screening``; 0: none, or no such search)."""
    try:
        with (Path(search_dir) / SCREENED_FILE).open() as lines:
            return sum(1 for line in lines if line.strip())
    except OSError:
        return 0


def predictor_summary(trials: Sequence[SearchTrial], screened: int = 0) -> dict[str, Any]:
    """What a job shows of its latency model: sampled points it screened out before they became
    trials (``screened``), trials it rejected unbuilt, and how close its predictions came to the
    measurements of the others."""
    rejected = sum(
        1
        for trial in trials
        if trial.status == TrialStatus.INFEASIBLE and (trial.error or "").startswith(PREDICTOR_REJECTED)
    )
    errors = [
        abs(trial.latency_predicted_ms / trial.latency_ms - 1)
        for trial in trials
        if trial.latency_predicted_ms and trial.latency_ms
    ]
    return {
        "screened": screened,
        "rejected": rejected,
        "compared": len(errors),
        "within": sum(error <= PREDICTOR_TOLERANCE for error in errors) / len(errors) if errors else None,
        "median_error": statistics.median(errors) if errors else None,
    }
