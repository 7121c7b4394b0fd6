"""One trial: build the candidate, train it, evaluate COCO AP, measure latency → TrialResult.

Usable without Ray (``run_trial``); ``workers.tune_trainable`` wraps it for Ray Tune. A trial
whose candidate fails (``workers.failures.CandidateError``: bad data, invalid point, diverging
loss, out of memory) returns a result with status "failed" and the reason, so that a search goes
on; any other exception is a bug and propagates."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from scaler import (
    Detector,
    NetworkSpec,
    ScalingPoint,
    SpecError,
    compound_scale,
    count_parameters,
    resolve_network,
)
from scaler.blocks import Anchors
from scaler.profile import count_flops
from workers.data.open import open_dataset
from workers.data.roots import DataRoots
from workers.failures import candidate_failure
from workers.latency import measure_latency
from workers.results import CocoMetrics, LatencyStats, TrialResult, TrialStatus
from workers.training.hyp import Hyperparameters
from workers.training.trainer import EpochResult, TrainConfig, Trainer


@dataclass(frozen=True)
class LatencyTarget:
    device: str = "cpu"
    batch: int = 1
    precision: str = "fp32"
    runs: int = 30
    rounds: int = 3
    threads: int | None = None
    runtime: str = "torch"
    # a registered target device (``search_spaces.devices.TargetDevice`` as a dict): timed by a Ray
    # task on the node that holds it (``workers.devices``) instead of in this process
    target_device: dict[str, Any] | None = None
    # the search's measurement cache (``workers.latency_cache``: a Ray actor's name); None: every
    # measurement is timed (a trial run without a search)
    cache: str | None = None

    def options(self, input_size: int) -> dict[str, Any]:
        """``measure_latency``'s keyword arguments (all but the device) for a network at ``input_size``."""
        return {
            "input_size": input_size,
            "batch": self.batch,
            "precision": self.precision,
            "runs": self.runs,
            "rounds": self.rounds,
            "threads": self.threads,
            "runtime": self.runtime,
        }

    def measure(self, model: Detector, input_size: int, include_nms: bool = False) -> LatencyStats:
        """``model``'s latency at ``input_size`` where this target says: on the registered device's
        node (``workers.devices``) or in this process on ``device``; taken from the search's cache
        when it holds this network on this device (``workers.latency_cache``; the network alone:
        NMS's time depends on the weights)."""
        if self.cache is None or include_nms:
            return self._measure(model, input_size, include_nms)
        from workers.latency_cache import measurement_key, through_cache

        key = measurement_key(model.spec, input_size, self, include_nms)
        return through_cache(self.cache, key, lambda: self._measure(model, input_size, include_nms))

    def _measure(self, model: Detector, input_size: int, include_nms: bool) -> LatencyStats:
        if self.target_device is not None:
            from search_spaces.devices import TargetDevice
            from workers.devices import measure_on_device

            if "kind" not in self.target_device:  # a name the trial was not given the device of
                raise RuntimeError(
                    f"objectives.latency.device: {self.target_device.get('name')!r} was not resolved: "
                    "run_search hands its trials the registered device"
                )
            device = TargetDevice(**self.target_device)
            return measure_on_device(
                device, model.spec, input_size, include_nms, runs=self.runs, rounds=self.rounds
            )
        return measure_latency(model, self.device, include_nms=include_nms, **self.options(input_size))


@dataclass(frozen=True)
class TrialConfig:
    """A trial's settings, typed, each default written once: here, in ``ScalingPoint``,
    ``Hyperparameters`` and ``LatencyTarget``. ``model`` is a preset name or model yaml; ``point``
    (a compound-scaling point, as a search proposes) replaces it, its ``input_size`` the trial's
    ``image_size``. The network is built for the dataset's classes (``build_network``): a point's
    ``num_classes`` is only a placeholder until the data is opened, and ``run_trial`` records the
    data's. ``to_dict`` / ``from_dict`` round-trip it (Tune configs, records, exports);
    ``from_dict`` also reads older records whose point holds only the values a search set."""

    data: str
    model: str = "yolov4-p5"
    depth_multiple: float | None = None
    width_multiple: float | None = None
    point: ScalingPoint | None = None
    image_size: int = 256
    epochs: int = 10
    restarts: tuple[int, ...] = ()  # epochs where the cosine learning rate starts a new cycle
    batch_size: int = 16
    hyp: Hyperparameters = field(default_factory=Hyperparameters)
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    out_dir: str | None = None
    cache: bool = False
    nominal_batch: int = 64
    optimizer: str = "sgd"
    latency: LatencyTarget = field(default_factory=LatencyTarget)
    init_weights: str | None = None  # a parent's weights to start from (weight inheritance)
    data_roots: tuple[str, ...] | None = None  # the service's data roots: every file read lies inside

    def __post_init__(self) -> None:
        if self.point is not None and self.point.input_size != self.image_size:
            raise ValueError(
                f"image_size: {self.image_size}, but the scaling point's input_size is "
                f"{self.point.input_size}"
            )

    @property
    def roots(self) -> DataRoots:
        return DataRoots.of(self.data_roots)

    def for_classes(self, num_classes: int) -> TrialConfig:
        """This trial with its point's class count the dataset's (what it trains)."""
        if self.point is None or self.point.num_classes == num_classes:
            return self
        return dataclasses.replace(self, point=dataclasses.replace(self.point, num_classes=num_classes))

    def with_anchors(self, anchors: Anchors) -> TrialConfig:
        """This trial with its point's anchors ``anchors`` (fitted to the data)."""
        if self.point is None:
            raise ValueError(f"anchors: {self.model} is a preset; only a scaling point's anchors are fitted")
        return dataclasses.replace(self, point=dataclasses.replace(self.point, anchors=anchors))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrialConfig:
        """The TrialConfig ``to_dict`` wrote (JSON's lists read back as tuples), or an older record's.
        ``ValueError`` (``HypError``, ``SpecError``) naming the field that cannot be read."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown trial setting")
        latency = values.get("latency") or {}
        hyp = values.get("hyp") or {}
        point = values.get("point")
        roots = values.get("data_roots")
        settings = cls(
            **{
                **values,
                "point": None,
                "restarts": tuple(values.get("restarts") or ()),
                "data_roots": None if roots is None else tuple(roots),
                "latency": latency if isinstance(latency, LatencyTarget) else LatencyTarget(**latency),
                "hyp": hyp if isinstance(hyp, Hyperparameters) else Hyperparameters.from_mapping(hyp),
            }
        )
        if point is None:
            return settings
        if not isinstance(point, ScalingPoint):
            point = scaling_point_of(point, settings.image_size)
        return dataclasses.replace(settings, point=point)


def scaling_point_of(values: Mapping[str, Any], input_size: int) -> ScalingPoint:
    """A scaling point from a mapping of its fields: a record's (every field, JSON's lists where it
    had tuples) or only those a search set (the rest ``ScalingPoint``'s defaults, the input size
    ``input_size`` unless given). ``SpecError`` naming an unknown or invalid field."""
    known = {item.name for item in dataclasses.fields(ScalingPoint)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SpecError(unknown[0], "unknown scaling-point field")
    typed = {"input_size": input_size, **values}
    for name in ("depth_exponents", "repeats"):
        if isinstance(typed.get(name), list):
            typed[name] = tuple(typed[name])
    if isinstance(typed.get("anchors"), list | tuple):
        typed["anchors"] = tuple(tuple(level) for level in typed["anchors"])
    return ScalingPoint(**typed)


def build_network(config: TrialConfig, num_classes: int) -> NetworkSpec:
    """The trial's network for the dataset's ``num_classes``."""
    point = config.for_classes(num_classes).point
    if point is not None:
        return compound_scale(point).to_network()
    return resolve_network(
        config.model,
        num_classes=num_classes,
        input_size=config.image_size,
        depth_multiple=config.depth_multiple,
        width_multiple=config.width_multiple,
    )


def train_config_of(config: TrialConfig, num_classes: int) -> TrainConfig:
    """The trainer's configuration of a trial: its network for ``num_classes`` and its settings."""
    return TrainConfig(
        network=build_network(config, num_classes),
        data=Path(config.data),
        image_size=config.image_size,
        epochs=config.epochs,
        restarts=tuple(config.restarts),
        batch_size=config.batch_size,
        hyp=config.hyp,
        device=config.device,
        workers=config.workers,
        seed=config.seed,
        out_dir=Path(config.out_dir) if config.out_dir else None,
        cache=config.cache,
        nominal_batch=config.nominal_batch,
        optimizer=config.optimizer,
        init_weights=Path(config.init_weights) if config.init_weights else None,
    )


EpochCallback = Callable[[EpochResult, Trainer, LatencyStats], None]


def run_trial(
    config: TrialConfig,
    on_epoch: EpochCallback | None = None,
    resume_from: Path | None = None,
    on_batch: Callable[[int, torch.Tensor], None] | None = None,
    network_latency: LatencyStats | None = None,
    configure: Callable[[Trainer], None] | None = None,
) -> TrialResult:
    """Train and measure one candidate; never raises for the expected failures above.
    ``network_latency``: the untrained network's latency when already measured (pre-filter)."""
    started = time.perf_counter()
    params, gflops = 0, 0.0
    try:
        dataset = open_dataset(config.data, config.roots, decode=False)  # decoded before the search
        config = config.for_classes(dataset.num_classes)  # what it trains, as its result records it
        train_config = train_config_of(config, dataset.num_classes)
        trainer = Trainer(train_config, dataset=dataset)
        if configure is not None:  # e.g. a supernet's sandwich training
            configure(trainer)
        params = count_parameters(trainer.model)
        gflops, _ = count_flops(trainer.model, config.image_size)
        if resume_from is not None:
            trainer.resume(resume_from)
        target = config.latency
        if network_latency is None:
            network_latency = target.measure(trainer.model, config.image_size)
        trainer.fit(lambda result: on_epoch(result, trainer, network_latency) if on_epoch else None, on_batch)
        as_started = None
        if config.epochs == 0:  # judged as it starts: a sub-network sliced from trained weights
            trainer.recalibrate()
            as_started = trainer.evaluate()
        with_nms = target.measure(trainer.ema.ema, config.image_size, include_nms=True)
        last = trainer.history[-1] if trainer.history else None
        checkpoint = str(Path(config.out_dir) / "last.pt") if config.out_dir else None
        return TrialResult(
            status=TrialStatus.COMPLETED,
            config=config.to_dict(),
            metrics=last.metrics if last else as_started or CocoMetrics.zero(),
            latency=network_latency,
            latency_with_nms=with_nms,
            params=params,
            gflops=gflops,
            epochs=len(trainer.history),
            train_seconds=time.perf_counter() - started,
            history=tuple(item.to_dict() for item in trainer.history),
            checkpoint=checkpoint,
        )
    except Exception as error:
        reason = candidate_failure(error)
        if reason is None:
            raise  # a bug, not the candidate
        return TrialResult(
            status=TrialStatus.FAILED,
            config=config.to_dict(),
            metrics=CocoMetrics.zero(),
            latency=None,
            latency_with_nms=None,
            params=params,
            gflops=gflops,
            epochs=0,
            train_seconds=time.perf_counter() - started,
            error=reason,
        )
