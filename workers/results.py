"""Typed results that cross package boundaries (workers → api, dashboards via the API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
    precision: str  # "fp32" or "fp16"
    batch: int
    input_size: int
    include_nms: bool
    rounds: int
    round_p50_ms: tuple[float, ...]
    estimate_ms: float
    spread: float

    @property
    def stable(self) -> bool:
        """Whether the rounds agree within ``UNSTABLE_SPREAD`` (else the machine was busy)."""
        return self.spread <= UNSTABLE_SPREAD

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["round_p50_ms"] = list(self.round_p50_ms)
        return document


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
