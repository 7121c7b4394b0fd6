"""What a search optimises: AP up, latency on a named device down, within optional constraints."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search_spaces.devices import DEVICE_NAME_PATTERN, is_in_process

# what a registered device sets for itself: the objective leaves these at their defaults
DEVICE_SETTINGS = {"batch": 1, "precision": "fp32", "threads": None}


class LatencyObjective(BaseModel):
    """``device``: ``cpu``, ``cuda`` or ``cuda:N`` (timed in the trial's own process, with this
    objective's batch, precision and threads) or a registered target device's name
    (``search_spaces.devices``: timed on the node that holds it, with the device's runtime,
    precision, batch and threads; the objective leaves those three at their defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device: str = "cpu"
    batch: int = Field(default=1, ge=1, le=256)
    precision: Literal["fp32", "fp16"] = "fp32"
    include_nms: bool = False  # optimise network + NMS instead of the network alone
    runs: int = Field(default=30, ge=30, le=10_000)  # timed runs per round (≥ 30, as on CPU)
    # the figure is the lowest round median: a machine that slows down for a while spoils a round,
    # not the measurement (docs/search.md, "Latency")
    rounds: int = Field(default=3, ge=1, le=100)
    threads: int | None = Field(default=None, ge=1)

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not is_in_process(value) and not re.match(DEVICE_NAME_PATTERN, value):
            raise ValueError(
                f"must be 'cpu', 'cuda', 'cuda:N' or a registered device's name (lower-case letters, "
                f"digits, '.', '_', '-'), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _precision(self) -> LatencyObjective:
        if self.precision == "fp16" and self.device == "cpu":
            raise ValueError("precision: fp16 latency needs a CUDA device")
        if self.registered:
            for name, default in DEVICE_SETTINGS.items():
                if getattr(self, name) != default:
                    raise ValueError(
                        f"{name}: the device {self.device!r} sets its own {name}; leave it out "
                        f"(or time with cpu/cuda and set it here)"
                    )
        return self

    @property
    def registered(self) -> bool:
        """Whether ``device`` names a registered target device (not the trial's own)."""
        return not is_in_process(self.device)

    @property
    def on_gpu(self) -> bool:
        """Whether the latency is timed on the trial's own GPU (a registered device is timed on
        the node that holds it, whatever the trial trains on)."""
        return not self.registered and self.device.startswith("cuda")


class Constraints(BaseModel):
    """Candidates that break one are recorded as infeasible without training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_latency_ms: float | None = Field(default=None, gt=0)
    max_params: int | None = Field(default=None, gt=0)
    max_gflops: float | None = Field(default=None, gt=0)

    def violations(self, latency_ms: float, params: int, gflops: float) -> list[str]:
        broken = []
        if self.max_latency_ms is not None and latency_ms > self.max_latency_ms:
            broken.append(f"latency {latency_ms:.2f} ms > max_latency_ms {self.max_latency_ms}")
        if self.max_params is not None and params > self.max_params:
            broken.append(f"params {params} > max_params {self.max_params}")
        if self.max_gflops is not None and gflops > self.max_gflops:
            broken.append(f"GFLOPs {gflops:.3f} > max_gflops {self.max_gflops}")
        return broken


class Objectives(BaseModel):
    """``accuracy``: "ap" (AP@[.5:.95]), "ap50", or "fitness" (the reference's 0.1·AP50 + 0.9·AP).
    ``reference_latency_ms``: the hypervolume's reference latency (default: max_latency_ms, else
    the slowest latency measured in the search)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accuracy: Literal["ap", "ap50", "fitness"] = "ap"
    latency: LatencyObjective = LatencyObjective()
    constraints: Constraints = Constraints()
    reference_latency_ms: float | None = Field(default=None, gt=0)

    @property
    def configured_reference_latency_ms(self) -> float | None:
        """The hypervolume's reference latency as configured (None: derive it from the trials)."""
        return self.reference_latency_ms or self.constraints.max_latency_ms

    @property
    def latency_metric(self) -> str:
        return "latency_nms_ms" if self.latency.include_nms else "latency_ms"
