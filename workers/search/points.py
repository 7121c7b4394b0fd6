"""Between search points (flat ``arch/…``, ``hyp/…`` names) and trials: Tune configs nest the
point as {"arch": {…}, "hyp": {…}} next to the job; a trial's TrialConfig is built from both."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search_spaces import JobSpec, Point, parse_weights_reference, scaling_values
from search_spaces.devices import TargetDevice, preset_devices
from workers.data.roots import DataRoots
from workers.training.hyp import FINE_TUNE_CHANGES, Hyperparameters
from workers.trial import LatencyTarget, TrialConfig, scaling_point_of

if TYPE_CHECKING:
    from workers.search.outcome import SearchTrial

GROUPS = ("arch", "hyp")


def nest(point: Point) -> dict[str, dict[str, Any]]:
    nested: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
    for name, value in point.items():
        group, key = name.split("/", 1)
        nested[group][key] = value
    return nested


def flatten(config: dict[str, Any]) -> Point:
    """The flat point of a trial's Tune config (a finalist's is the front trial's own point)."""
    finalist = config.get("finalize")
    if isinstance(finalist, dict) and isinstance(finalist.get("point"), dict):
        return dict(finalist["point"])
    return {f"{group}/{key}": value for group in GROUPS for key, value in (config.get(group) or {}).items()}


def trial_config(
    spec: JobSpec, point: Point, out_dir: str | None = None, target_device: dict[str, Any] | None = None
) -> TrialConfig:
    """The TrialConfig of ``point`` under ``spec`` (the dataset is ``spec.dataset``), its values
    finished here, where it is still known which the job and the search set: its ``ScalingPoint``
    (the searched coordinates, the rest its defaults; the class count is the data's when the network
    is built) and its ``Hyperparameters`` (reference defaults, then the fine-tuning file's changes
    when the job starts from weights, then the job's base, then the searched values).
    ``target_device``: the registered device the job times on (``latency_target``). ``SpecError``
    or ``HypError`` when the point cannot make a network or train."""
    scaling = scaling_values(point)
    image_size = int(scaling.pop("input_size", spec.space.architecture.input_size[0]))
    latency = spec.objectives.latency
    training = spec.training
    epochs = spec.budget.epochs_per_trial
    scheduling = spec.scheduling
    halving = spec.scheduler != "fifo" and scheduling.lr_schedule == "rungs"
    # a job that starts from trained weights: the reference's fine-tuning file under the searched
    # values, as the reference takes hyp.finetune.yaml whenever it is given weights
    base = FINE_TUNE_CHANGES if training.initial_weights else {}
    return TrialConfig(
        data=spec.dataset,
        point=scaling_point_of(scaling, image_size),
        image_size=image_size,
        epochs=epochs,
        restarts=tuple(scheduling.rungs(epochs)) if halving else (),
        batch_size=training.batch_size,
        hyp=Hyperparameters.from_mapping({**base, **spec.space.hyp_values(point)}),
        # a share of a GPU trains on it (Ray's fractional GPU: CUDA_VISIBLE_DEVICES names it)
        device="cuda" if latency.on_gpu or spec.budget.gpus_per_trial > 0 else "cpu",
        workers=training.workers,
        seed=spec.seed,
        out_dir=out_dir,
        cache=training.cache,
        nominal_batch=training.nominal_batch,
        optimizer=training.optimizer,
        latency=latency_target(spec, target_device),
    )


def latency_target(spec: JobSpec, target_device: dict[str, Any] | None = None) -> LatencyTarget:
    """How a trial of ``spec`` times its network: in its own process with the objective's settings,
    or on the registered device the objective names (``target_device``, as the search's Tune config
    carries it; else the preset of that name) with the device's runtime, precision, batch and
    threads."""
    latency = spec.objectives.latency
    if not latency.registered:
        return LatencyTarget(
            device=latency.device,
            batch=latency.batch,
            precision=latency.precision,
            runs=latency.runs,
            rounds=latency.rounds,
            threads=latency.threads,
        )
    preset = preset_devices().get(latency.device)
    values = target_device or (preset.model_dump(mode="json") if preset else {"name": latency.device})
    device = TargetDevice(**values) if "kind" in values else None
    return LatencyTarget(
        device=device.torch_device if device else "cpu",
        batch=device.batch if device else 1,
        precision=device.precision if device else "fp32",
        runs=latency.runs,
        rounds=latency.rounds,
        threads=device.threads if device else None,
        runtime=device.runtime if device else "torch",
        target_device=values,
    )


def trial_config_of(spec: JobSpec, trial: SearchTrial) -> TrialConfig:
    """The TrialConfig a finished trial trained (its fitted anchors included)."""
    config = trial_config(spec, trial.point)
    if trial.anchors:
        config = config.with_anchors(tuple(tuple(level) for level in json.loads(trial.anchors)))
    return config


def starting_point(
    spec: JobSpec, initial_weights: str | Path | None, data_roots: Sequence[str | Path] | None
) -> dict[str, str] | None:
    """Where every trial's weights start (``training.initial_weights``): its path on this machine
    and its label as the user gave it (what trials record as ``initialised_from``)."""
    label = spec.training.initial_weights
    if not label:
        return None
    if initial_weights is None:
        if parse_weights_reference(label) is not None:
            raise ValueError(
                f"training.initial_weights: {label!r} names a job: only the service resolves those"
            )
        roots = DataRoots.of(None if data_roots is None else [str(root) for root in data_roots])
        initial_weights = roots.check(Path(label).expanduser().resolve(), "training.initial_weights", label)
    return {"path": str(Path(initial_weights).resolve()), "label": label}
