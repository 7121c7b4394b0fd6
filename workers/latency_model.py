"""A latency model per device: predicts a network's latency from its shapes, before anything is
built or trained (issue 25).

The model is a learned regressor over per-operator features summed over the network
(``scaler.latency_features``: convolution FLOPs by kind, the elements every operator writes, the
operator count): latency ≈ Σ wᵢ · featureᵢ + w₀ with every weight ≥ 0 — a device's cost per FLOP of
each convolution kind, per element written, per operator and per run. It is fitted by non-negative
least squares on *relative* errors (so a 5 ms network counts as much as a 500 ms one), from
networks timed on the device (``calibrate``, and every real measurement a search makes:
``LatencyModel.updated``). Its interval comes from the leave-one-out relative errors of its own
samples, so it says how far a prediction may be off on this device.

One model per measurement setting (device, runtime, precision, batch, threads): ``setting_key``.
Its features are counted the way its runtime runs the network (``graph_rules``: eager torch, or
the exported ONNX graph with its fusions), and the model records which (``graph``), so a model
fitted on one count is never fed the other.
Stored as JSON under ``SCALER_LATENCY_MODELS`` (default ``~/.cache/scaler/latency-models``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from scaler import Detector, ScalingPoint, SpecError, compound_scale
from scaler.latency_features import EAGER, FEATURES, GRAPH_RULES, ONNX, GraphRules, latency_features
from search_spaces import ArchitectureSpace, scaling_values
from search_spaces.devices import is_in_process, preset_devices
from search_spaces.mutation import sample_point
from workers.results import LatencyStats
from workers.trial import LatencyTarget

MODELS_ENV = "SCALER_LATENCY_MODELS"
INTERVAL_QUANTILES = (0.05, 0.95)  # the prediction interval: 90 % of leave-one-out errors
MIN_SAMPLES = len(FEATURES) + 2  # fewer networks than this cannot fit the weights
MAX_SAMPLES = 2000  # a model keeps its newest samples


@dataclass(frozen=True)
class LatencySample:
    """One network timed on the device: its features and its measured latency (ms)."""

    features: dict[str, float]
    measured_ms: float
    label: str = ""

    def row(self) -> np.ndarray:
        return np.array([self.features.get(name, 0.0) for name in FEATURES] + [1.0])


@dataclass(frozen=True)
class Prediction:
    predicted_ms: float
    interval_ms: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"predicted_ms": self.predicted_ms, "interval_ms": list(self.interval_ms)}


@dataclass(frozen=True)
class LatencyModel:
    """``setting``: what was measured (``setting_key``); ``weights``: one per feature, then the
    constant; ``relative_errors``: leave-one-out (measured / predicted − 1) of the samples;
    ``graph``: the ``GraphRules`` its features were counted by."""

    setting: str
    weights: tuple[float, ...]
    relative_errors: tuple[float, ...]
    samples: tuple[LatencySample, ...] = field(repr=False)
    graph: str = EAGER.name

    def predict(self, features: dict[str, float]) -> Prediction:
        row = LatencySample(features, 0.0).row()
        predicted = float(row @ np.array(self.weights))
        low, high = _quantiles(self.relative_errors)
        return Prediction(predicted, (predicted * (1 + low), predicted * (1 + high)))

    def updated(self, samples: Iterable[LatencySample]) -> LatencyModel:
        """The model refitted with ``samples`` added (the newest ``MAX_SAMPLES`` kept); while it
        has too few to fit, it keeps its weights and gathers them."""
        combined = [*self.samples, *samples][-MAX_SAMPLES:]
        if len(combined) < MIN_SAMPLES:
            return replace(self, samples=tuple(combined))
        return fit(self.setting, combined, GRAPH_RULES[self.graph])

    def accuracy(self, samples: Sequence[LatencySample], tolerance: float = 0.10) -> dict[str, float]:
        """How well it predicts ``samples`` (networks it was not fitted on): the share within
        ``tolerance`` of the measured latency, the rank correlation and the median error."""
        predicted = [self.predict(sample.features).predicted_ms for sample in samples]
        measured = [sample.measured_ms for sample in samples]
        return agreement(predicted, measured, tolerance)

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "features": list(FEATURES),
            "graph": self.graph,
            "weights": list(self.weights),
            "relative_errors": list(self.relative_errors),
            "samples": [asdict(sample) for sample in self.samples],
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> LatencyModel:
        if list(document.get("features", [])) != list(FEATURES):
            raise ValueError("latency model: fitted on other features; calibrate the device again")
        graph = str(document.get("graph", EAGER.name))  # models stored before the graph rules: eager
        if graph not in GRAPH_RULES:
            raise ValueError(f"latency model: unknown graph rules {graph!r}; calibrate the device again")
        return cls(
            graph=graph,
            setting=str(document["setting"]),
            weights=tuple(float(value) for value in document["weights"]),
            relative_errors=tuple(float(value) for value in document["relative_errors"]),
            samples=tuple(LatencySample(**sample) for sample in document["samples"]),
        )

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_dict()))
        temporary.replace(path)  # a reader never sees half a model
        return path


def setting_key(device: str, runtime: str, precision: str, batch: int, threads: int | None) -> str:
    """The measurement setting a model belongs to, as a file name: a model of one setting says
    nothing about another."""
    return f"{device}-{runtime}-{precision}-b{batch}-t{threads if threads is not None else 'all'}"


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or Path.home() / ".cache" / "scaler" / "latency-models")


def model_path(setting: str) -> Path:
    return models_dir() / f"{setting}.json"


def load_model(setting: str) -> LatencyModel | None:
    path = model_path(setting)
    if not path.is_file():
        return None
    return LatencyModel.from_dict(json.loads(path.read_text()))


def graph_rules(runtime: str) -> GraphRules:
    """How ``runtime`` runs a network: eager torch runs the module's operators (torch.compile's
    fusions are left to the fit), ONNX Runtime and TensorRT the exported ONNX graph."""
    return ONNX if runtime in ("onnxruntime", "tensorrt") else EAGER


def fit(setting: str, samples: Sequence[LatencySample], rules: GraphRules = EAGER) -> LatencyModel:
    """Non-negative weights minimising the squared relative error over ``samples`` (features
    counted by ``rules``)."""
    if len(samples) < MIN_SAMPLES:
        raise ValueError(
            f"samples: a latency model needs at least {MIN_SAMPLES} timed networks, got {len(samples)}"
        )
    weights = _weights(samples)
    errors = []
    for index, sample in enumerate(samples):  # leave one out: how far an unseen network may be off
        rest = [other for position, other in enumerate(samples) if position != index]
        predicted = float(sample.row() @ _weights(rest))
        errors.append(sample.measured_ms / predicted - 1 if predicted > 0 else math.inf)
    finite = tuple(error for error in errors if math.isfinite(error))
    return LatencyModel(
        setting, tuple(float(value) for value in weights), finite, tuple(samples), graph=rules.name
    )


def _weights(samples: Sequence[LatencySample]) -> np.ndarray:
    rows = np.stack([sample.row() for sample in samples])
    measured = np.array([sample.measured_ms for sample in samples])
    scale = rows.max(axis=0)
    scale[scale == 0] = 1.0
    relative = rows / scale / measured[:, None]  # each row divided by its target: relative errors
    solution, _ = nnls(relative, np.ones(len(samples)))
    return solution / scale


def _quantiles(errors: Sequence[float]) -> tuple[float, float]:
    if not errors:
        return 0.0, 0.0
    low, high = np.quantile(np.array(errors), INTERVAL_QUANTILES)
    return float(min(low, 0.0)), float(max(high, 0.0))


def agreement(
    predicted: Sequence[float], measured: Sequence[float], tolerance: float = 0.10
) -> dict[str, float]:
    """The share of ``predicted`` within ``tolerance`` of ``measured``, Spearman's rank
    correlation between them, and the median and 95th-percentile relative error."""
    from scipy.stats import spearmanr

    errors = [abs(guess / truth - 1) for guess, truth in zip(predicted, measured, strict=True)]
    return {
        "count": len(errors),
        "within": sum(error <= tolerance for error in errors) / len(errors),
        "spearman": float(spearmanr(predicted, measured).statistic),
        "median_error": float(np.median(errors)),
        "p95_error": float(np.quantile(errors, 0.95)),
    }


def space_networks(
    space: ArchitectureSpace, count: int, seed: int, num_classes: int = 1
) -> list[tuple[str, ScalingPoint]]:
    """``count`` networks of ``space`` drawn uniformly (``seed``), as (label, point): the
    networks a model is calibrated on, or judged on with another seed. A draw the scaling rules
    refuse is drawn again."""
    rng = np.random.default_rng(seed)
    parameters = space.parameters()
    drawn: list[tuple[str, ScalingPoint]] = []
    while len(drawn) < count:
        values = scaling_values(sample_point(parameters, rng))
        try:
            point = ScalingPoint(**{**values, "num_classes": num_classes})
        except SpecError:
            continue
        label = ",".join(f"{key}={value}" for key, value in sorted(values.items()))
        drawn.append((label, point))
    return drawn


def timed_samples(
    networks: Sequence[tuple[str, ScalingPoint]],
    measure: Callable[[Detector, int], LatencyStats],
    batch: int = 1,
    rules: GraphRules = EAGER,
) -> list[LatencySample]:
    """Each network built and timed with ``measure(model, input_size)``, as samples whose
    features are counted by ``rules``."""
    samples = []
    for label, point in networks:
        model = Detector(compound_scale(point).to_network()).eval()
        stats = measure(model, point.input_size)
        features = latency_features(model, point.input_size, batch, rules)
        samples.append(LatencySample(features, stats.estimate_ms, label))
    return samples


def setting_of(target: LatencyTarget) -> str:
    """The setting a trial's measurements belong to (a registered device by its name)."""
    name = str(target.target_device["name"]) if target.target_device else target.device
    return setting_key(name, target.runtime, target.precision, target.batch, target.threads)


def local_target(device: str, threads: int | None = None, rounds: int = 3) -> tuple[LatencyTarget, str]:
    """How ``scaler latency`` times on this machine for ``device`` (cpu, cuda[:N] with
    ``threads``, or a preset device with its own settings — run it on the machine that holds the
    device), and the setting its model is stored under."""
    if is_in_process(device):
        target = LatencyTarget(device=device, threads=threads, rounds=rounds)
        return target, setting_of(target)
    presets = preset_devices()
    if device not in presets:
        raise ValueError(
            f"device: {device!r} is not cpu, cuda, cuda:N or a preset ({', '.join(sorted(presets))})"
        )
    preset = presets[device]
    target = LatencyTarget(
        device=preset.torch_device,
        batch=preset.batch,
        precision=preset.precision,
        threads=preset.threads,
        runtime=preset.runtime,
        rounds=rounds,
    )
    return target, setting_key(device, preset.runtime, preset.precision, preset.batch, preset.threads)
