"""Unstable measurements timed again at the end of a search.

A measurement whose rounds disagree (``LatencyStats.stable`` false: the machine was busy) keeps
its trial off the front and out of the hypervolume's reference (``outcome.summarise``). Once Tune
has finished (no trial trains any more), each such trial's network is built again from its point
and timed up to ``ATTEMPTS`` times, through ``LatencyTarget.measure`` (so on its registered device,
and through the search's cache), until a measurement is stable. The trial's record takes the
stablest one (``latency_stats.remeasured``: how many were taken) and the search's callbacks are
told (``on_trial_remeasured``); if none was stable the trial stays off the front."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

from search_spaces import JobSpec
from workers.results import MEASURED_STATUSES, LatencyStats
from workers.search.outcome import SearchTrial
from workers.search.recorder import TrialRecorder

ATTEMPTS = 3


def needs_remeasuring(trial: SearchTrial) -> bool:
    """A measured trial whose latency measurement is unstable and was not timed again yet."""
    stats = trial.latency_stats
    return (
        trial.status in MEASURED_STATUSES and stats is not None and not stats.stable and not stats.remeasured
    )


def stablest(measure: Callable[[], LatencyStats], attempts: int = ATTEMPTS) -> LatencyStats:
    """``measure()`` until a measurement is stable, at most ``attempts`` times: the stable one, else
    the one with the lowest spread; ``remeasured`` says how many were taken."""
    taken: list[LatencyStats] = []
    while len(taken) < attempts and not (taken and taken[-1].stable):
        taken.append(measure())
    best = next((stats for stats in taken if stats.stable), min(taken, key=lambda stats: stats.spread))
    return dataclasses.replace(best, remeasured=len(taken))


def remeasure_unstable(
    spec: JobSpec, trials: list[SearchTrial], shared: dict[str, Any], recorder: TrialRecorder
) -> list[SearchTrial]:
    """``trials`` with every unstable measurement timed again (one trial at a time, each in a Ray
    task holding a trial's resources); the callbacks are told of each trial re-measured."""
    import ray

    if not any(needs_remeasuring(trial) for trial in trials):
        return trials
    task = ray.remote(_remeasure).options(
        num_cpus=spec.budget.cpus_per_trial or 1, num_gpus=spec.budget.gpus_per_trial, max_retries=0
    )
    updated = []
    for trial in trials:
        if needs_remeasuring(trial):
            figures = ray.get(
                task.remote(
                    spec.model_dump(mode="json"),
                    trial.to_dict(),
                    shared.get("target_device"),
                    shared.get("latency_cache"),
                    shared.get("data_roots"),
                )
            )
            trial = remeasured(trial, LatencyStats.from_dict(figures["latency"]), figures["latency_nms_ms"])
            trial = recorder.remeasured(trial)
        updated.append(trial)
    return updated


def remeasured(trial: SearchTrial, stats: LatencyStats, latency_nms_ms: float | None) -> SearchTrial:
    """The trial's record with its new measurement (and with-NMS figure, when timed again)."""
    return dataclasses.replace(
        trial,
        latency_ms=stats.estimate_ms,
        latency_spread=stats.spread,
        latency_stats=stats,
        latency_nms_ms=latency_nms_ms if latency_nms_ms is not None else trial.latency_nms_ms,
    )


def _remeasure(
    spec_values: dict[str, Any],
    trial_values: dict[str, Any],
    target_device: dict[str, Any] | None,
    cache: str | None,
    data_roots: list[str] | None,
) -> dict[str, Any]:
    """The Ray task: the trial's network built from its point and timed as its trial timed it."""
    import torch

    from scaler import Detector
    from workers.data.open import open_dataset
    from workers.search.points import latency_target, trial_config_of
    from workers.search.resources import trial_threads
    from workers.trial import build_network

    spec = JobSpec.model_validate(spec_values)
    trial = SearchTrial.from_dict(trial_values)
    torch.set_num_threads(trial_threads(spec))  # as the trial timed it: with the CPUs it held
    config = trial_config_of(spec, trial)
    target = dataclasses.replace(latency_target(spec, target_device), cache=cache)
    config = dataclasses.replace(config, latency=target, data_roots=tuple(data_roots) if data_roots else None)
    dataset = open_dataset(config.data, config.roots, decode=False)
    model = Detector(build_network(config, dataset.num_classes))
    stats = stablest(lambda: target.measure(model, config.image_size))
    with_nms = None
    if spec.objectives.latency.include_nms and _load_trained(model, trial.checkpoint):
        # NMS's time depends on the boxes the trained weights give: timed with them, as the trial was
        with_nms = stablest(lambda: target.measure(model, config.image_size, include_nms=True)).estimate_ms
    return {"latency": stats.to_dict(), "latency_nms_ms": with_nms}


def _load_trained(model: Any, checkpoint: str | None) -> bool:
    """Load the trial's trained weights into ``model``; False when it has none that can be read."""
    from scaler.checkpoint import load_weights
    from workers.export import MissingCheckpointError, local_copy

    if checkpoint is None:
        return False
    with contextlib.suppress(MissingCheckpointError), local_copy(checkpoint) as weights:
        load_weights(model, weights)
        return True
    return False
