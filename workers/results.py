"""Typed results that cross package boundaries (workers → api, dashboards via the API)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

UNSTABLE_SPREAD = 1.25  # round medians further apart than this: the timing is flagged unstable


@dataclass(frozen=True)
class CocoMetrics:
    """COCO box metrics from pycocotools (−1 where COCO leaves a figure undefined, e.g. no large
    objects in the ground truth)."""

    ap: float  # AP@[.50:.95]
    ap50: float
    ap75: float
    ap_small: float
    ap_medium: float
    ap_large: float

    @property
    def fitness(self) -> float:
        """The reference's scalar fitness: 0.1·AP50 + 0.9·AP."""
        return 0.1 * self.ap50 + 0.9 * self.ap

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def zero(cls) -> CocoMetrics:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one configuration on one device, in milliseconds per batch.

    The timed runs come in ``rounds`` of ``runs`` each. ``p50_ms`` … ``std_ms`` describe all of
    them pooled; ``estimate_ms`` is the figure a search optimises: the lowest round median, since
    whatever else runs on the machine can only slow a round down. ``spread`` (highest over lowest
    round median) says how much the machine moved during the measurement."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    std_ms: float
    runs: int  # timed runs per round
    warmup: int
    device: str  # "cpu" or "cuda:0"
    device_name: str
    torch_version: str
    cuda_version: str | None
    driver_version: str | None
    threads: int
    precision: str  # "fp32", "fp16" or "int8"
    batch: int
    input_size: int
    include_nms: bool
    rounds: int
    round_p50_ms: tuple[float, ...]
    estimate_ms: float
    spread: float
    runtime: str = "torch"  # what ran the network: torch (eager), torch-compile, onnxruntime, tensorrt
    target: str | None = None  # the registered target device's name (None: the trial's own device)
    node_id: str | None = None  # the Ray node that measured it, for a registered device
    # the measurement cache's key of this network and settings (``workers.latency_cache``; None: timed
    # outside a search), whether it came from the cache instead of being timed for this trial, and
    # how often it was timed again at the search's end because its rounds disagreed
    key: str | None = None
    cached: bool = False
    remeasured: int = 0

    @property
    def stable(self) -> bool:
        """Whether the rounds agree within ``UNSTABLE_SPREAD`` (else the machine was busy)."""
        return self.spread <= UNSTABLE_SPREAD

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["round_p50_ms"] = list(self.round_p50_ms)
        return document

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LatencyStats:
        """The stats as ``to_dict`` wrote them (keys this version does not know are left out, a key
        it knows but an older writer did not keeps its default)."""
        known = {item.name for item in dataclasses.fields(cls)}
        document = {key: value for key, value in values.items() if key in known}
        document["round_p50_ms"] = tuple(document.get("round_p50_ms") or ())
        return cls(**document)


class TrialStatus(StrEnum):
    """What a trial is doing, or how it ended. Its values are the strings stored and served."""

    RUNNING = "running"  # training: one report per epoch
    COMPLETED = "completed"  # trained all its epochs
    STOPPED = "stopped"  # cut early (scheduler, budget, cancel): its last epoch's figures count
    INFEASIBLE = "infeasible"  # broke a constraint before training: nothing trained
    FAILED = "failed"  # the candidate failed (``workers.failures.CandidateError``): a bad network
    ERRORED = "errored"  # a bug, not the candidate: the trainable raised something else

    @property
    def measured(self) -> bool:
        """Whether the trial's accuracy and latency were measured (it may join the front)."""
        return self in MEASURED_STATUSES

    @property
    def finished(self) -> bool:
        return self is not TrialStatus.RUNNING


MEASURED_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.STOPPED})
# ended because of an error: the candidate's (failed) or a bug (errored); nothing was learned
FAILED_STATUSES = frozenset({TrialStatus.FAILED, TrialStatus.ERRORED})
# ended without a measurement: no accuracy, maybe no latency; never ranked by a scheduler
UNMEASURED_STATUSES = frozenset({TrialStatus.INFEASIBLE, TrialStatus.FAILED, TrialStatus.ERRORED})

LATENCY_STATS_PREFIX = "latency_stats/"  # Tune flattens nested results with "/": the stats travel flat


def _number(value: Any) -> float | None:
    """A finite-or-infinite float from a reported value; None for None, NaN, text or booleans."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and math.isfinite(number) else None


def _complete(latency: Mapping[str, Any]) -> bool:
    """Whether a reported latency measurement holds every figure ``LatencyStats`` needs."""
    required = {item.name for item in dataclasses.fields(LatencyStats) if item.default is dataclasses.MISSING}
    return bool(latency) and required <= set(latency)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class TrialReport:
    """What a trial reports to Tune: one report per epoch (status ``running``), then one last
    (``final``) saying how it ended. The trainable reports ``to_metrics()``; every reader (the
    recorder, searchers, schedulers, the stopper) reads ``TrialReport.from_metrics(result)``.
    ``epoch`` is the last epoch trained (0-based), -1 before any."""

    status: TrialStatus
    epoch: int = -1
    final: bool = False
    ap: float = 0.0
    ap50: float = 0.0
    ap75: float = 0.0
    fitness: float = 0.0
    latency_ms: float | None = None  # the network's latency: ``latency.estimate_ms``
    latency_nms_ms: float | None = None  # network + NMS, when the objective includes it
    latency: LatencyStats | None = None  # the whole measurement behind ``latency_ms``
    # the device's latency model's prediction, made before the network was built (None: no model)
    latency_predicted_ms: float | None = None
    params: int | None = None
    gflops: float | None = None
    image_size: int | None = None
    anchors: tuple[tuple[float, ...], ...] | None = None  # fitted to the data; None: the network's own
    # the anchor fit's best possible recall (share of labels an anchor can match) of the network's
    # own anchors and of the anchors it trained with (the fitted ones, or its own when none beat
    # them); None: no fit ran (``space.hyperparameters.anchors`` off)
    anchor_recall_before: float | None = None
    anchor_recall_after: float | None = None
    threads: int | None = None  # torch threads the trial trained with
    inherited_from: str | None = None  # an evolve parent's trial id
    initialised_from: str | None = None  # initial weights, "supernet" or "trial:<parent>"
    inherited_share: float | None = None
    error: str | None = None
    constraint_violation: float | None = None  # infeasible: how far over its constraints
    losses: Mapping[str, float] = field(default_factory=dict)  # training losses by part: total, box, …
    val_losses: Mapping[str, float] = field(default_factory=dict)
    images_per_second: float | None = None
    train_seconds: float | None = None
    resumed: bool = False  # the epoch ran in a trial restored from its checkpoint

    @property
    def latency_spread(self) -> float | None:
        return self.latency.spread if self.latency is not None else None

    @property
    def epochs(self) -> int:
        """Epochs trained."""
        return self.epoch + 1 if self.epoch >= 0 else 0

    def to_metrics(self) -> dict[str, Any]:
        """The flat dict Tune sees. Every objective is named in every report, None when not
        measured: Tune checks a trial's first result for the searcher's and scheduler's metrics."""
        metrics: dict[str, Any] = {
            "status": self.status.value,
            "epoch": self.epoch,
            "ap": self.ap,
            "ap50": self.ap50,
            "ap75": self.ap75,
            "fitness": self.fitness,
            "latency_ms": self.latency_ms,
            "latency_nms_ms": self.latency_nms_ms,
            "latency_spread": self.latency_spread,
            "latency_p95_ms": self.latency.p95_ms if self.latency is not None else None,
            "latency_predicted_ms": self.latency_predicted_ms,
            "params": self.params,
            "gflops": self.gflops,
            "image_size": self.image_size,
            "anchor_recall_before": self.anchor_recall_before,
            "anchor_recall_after": self.anchor_recall_after,
            "threads": self.threads,
            "inherited_from": self.inherited_from,
            "initialised_from": self.initialised_from,
            "inherited_share": self.inherited_share,
            "error": self.error,
            "constraint_violation": self.constraint_violation,
            "images_per_second": self.images_per_second,
            "train_seconds": self.train_seconds,
            "val_loss_total": None,
            **{f"loss_{name}": value for name, value in self.losses.items()},
            **{f"val_loss_{name}": value for name, value in self.val_losses.items()},
        }
        if self.final:
            metrics["final"] = True  # ("done" is reserved by Tune)
        if self.resumed:
            metrics["resumed"] = True
        if self.anchors is not None:  # one string: Tune's loggers keep scalars and strings
            metrics["anchors"] = json.dumps([list(level) for level in self.anchors])
        if self.latency is not None:
            for key, value in self.latency.to_dict().items():
                metrics[LATENCY_STATS_PREFIX + key] = value
        return metrics

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> TrialReport:
        """A report from what Tune holds of it (its own keys, e.g. ``timestamp``, are ignored).
        A result without a status is an epoch's of a trainable that does not say (``running``)."""
        status = metrics.get("status")
        status = TrialStatus(status) if isinstance(status, str) and status else TrialStatus.RUNNING
        epoch = _integer(metrics.get("epoch"))
        anchors = metrics.get("anchors")
        if isinstance(anchors, str):
            anchors = json.loads(anchors)
        if not isinstance(anchors, list | tuple):  # None, or a missing value in a logged table
            anchors = None
        latency = metrics.get("latency_stats")  # a result Tune kept nested
        if not isinstance(latency, Mapping):
            latency = {
                key[len(LATENCY_STATS_PREFIX) :]: value
                for key, value in metrics.items()
                if key.startswith(LATENCY_STATS_PREFIX)
            }
        losses = {
            key[len("loss_") :]: float(value)
            for key, value in metrics.items()
            if key.startswith("loss_") and _number(value) is not None
        }
        val_losses = {
            key[len("val_loss_") :]: float(value)
            for key, value in metrics.items()
            if key.startswith("val_loss_") and _number(value) is not None
        }
        return cls(
            status=status,
            epoch=epoch if epoch is not None else -1,
            final=bool(metrics.get("final")),
            ap=_number(metrics.get("ap")) or 0.0,
            ap50=_number(metrics.get("ap50")) or 0.0,
            ap75=_number(metrics.get("ap75")) or 0.0,
            fitness=_number(metrics.get("fitness")) or 0.0,
            latency_ms=_number(metrics.get("latency_ms")),
            latency_nms_ms=_number(metrics.get("latency_nms_ms")),
            latency=LatencyStats.from_dict(latency) if _complete(latency) else None,
            latency_predicted_ms=_number(metrics.get("latency_predicted_ms")),
            params=_integer(metrics.get("params")),
            gflops=_number(metrics.get("gflops")),
            image_size=_integer(metrics.get("image_size")),
            anchors=tuple(tuple(float(v) for v in level) for level in anchors) if anchors else None,
            anchor_recall_before=_number(metrics.get("anchor_recall_before")),
            anchor_recall_after=_number(metrics.get("anchor_recall_after")),
            threads=_integer(metrics.get("threads")),
            inherited_from=_text(metrics.get("inherited_from")),
            initialised_from=_text(metrics.get("initialised_from")),
            inherited_share=_number(metrics.get("inherited_share")),
            error=_text(metrics.get("error")),
            constraint_violation=_number(metrics.get("constraint_violation")),
            losses=losses,
            val_losses=val_losses,
            images_per_second=_number(metrics.get("images_per_second")),
            train_seconds=_number(metrics.get("train_seconds")),
            resumed=bool(metrics.get("resumed")),
        )


@dataclass(frozen=True)
class TrialResult:
    """Everything one trial measured; ``status`` is "completed" or "failed" (with ``error``)."""

    status: str
    config: dict[str, Any]
    metrics: CocoMetrics
    latency: LatencyStats | None
    latency_with_nms: LatencyStats | None
    params: int
    gflops: float
    epochs: int
    train_seconds: float
    history: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["history"] = list(self.history)
        return document
