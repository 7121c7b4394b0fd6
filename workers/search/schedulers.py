"""Schedulers by name: ``fifo`` (every trial runs its epochs), ``asha`` (Ray's ASHA on the scalar
accuracy metric) and ``moasha`` (Pareto-aware successive halving, see ``moasha``)."""

from __future__ import annotations

from collections.abc import Callable

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from search_spaces import JobSpec
from workers.search.moasha import MultiObjectiveASHA
from workers.search.searchers import hypervolume_reference, objective_metrics


def _fifo(spec: JobSpec) -> TrialScheduler:
    return FIFOScheduler()


def _asha(spec: JobSpec) -> TrialScheduler:
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=spec.objectives.accuracy,
        mode="max",
        max_t=spec.budget.epochs_per_trial + 1,  # one report per epoch, then the final one
        grace_period=spec.scheduling.grace_period,
        reduction_factor=spec.scheduling.reduction_factor,
    )


def _moasha(spec: JobSpec) -> TrialScheduler:
    metrics, modes = objective_metrics(spec)
    return MultiObjectiveASHA(
        metrics,
        modes,
        max_t=spec.budget.epochs_per_trial,
        grace_period=spec.scheduling.grace_period,
        reduction_factor=spec.scheduling.reduction_factor,
        reference=hypervolume_reference(spec),
    )


SCHEDULER_FACTORIES: dict[str, Callable[[JobSpec], TrialScheduler]] = {
    "fifo": _fifo,
    "asha": _asha,
    "moasha": _moasha,
}


def make_scheduler(spec: JobSpec) -> TrialScheduler:
    return SCHEDULER_FACTORIES[spec.scheduler](spec)
