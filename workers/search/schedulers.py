"""Schedulers by name: ``fifo`` (every trial runs its epochs), ``asha`` (Ray's ASHA on the scalar
accuracy metric, or the validation loss) and ``moasha`` (Pareto-aware successive halving, see
``moasha``)."""

from __future__ import annotations

from collections.abc import Callable

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from search_spaces import JobSpec
from workers.search.moasha import MultiObjectiveASHA
from workers.search.searchers import hypervolume_reference, objective_metrics


def _fifo(spec: JobSpec) -> TrialScheduler:
    return FIFOScheduler()


VALIDATION_LOSS = "val_loss_total"


def rung_objectives(spec: JobSpec) -> tuple[list[str], list[str], tuple[float | None, float | None]]:
    """The metrics, modes and hypervolume reference a rung ranks by: the job's objectives, or the
    validation loss in place of accuracy (its reference derived at each rung)."""
    metrics, modes = objective_metrics(spec)
    reference = hypervolume_reference(spec)
    if spec.scheduling.rung_metric == "val_loss":
        return [VALIDATION_LOSS, metrics[1]], ["min", modes[1]], (None, reference[1])
    return metrics, modes, reference


def _asha(spec: JobSpec) -> TrialScheduler:
    metrics, modes, _ = rung_objectives(spec)
    return ASHAScheduler(
        time_attr="training_iteration",
        metric=metrics[0],
        mode=modes[0],
        max_t=spec.budget.epochs_per_trial + 1,  # one report per epoch, then the final one
        grace_period=spec.scheduling.grace_period,
        reduction_factor=spec.scheduling.reduction_factor,
    )


def _moasha(spec: JobSpec) -> TrialScheduler:
    metrics, modes, reference = rung_objectives(spec)
    return MultiObjectiveASHA(
        metrics,
        modes,
        max_t=spec.budget.epochs_per_trial,
        grace_period=spec.scheduling.grace_period,
        reduction_factor=spec.scheduling.reduction_factor,
        reference=reference,
    )


SCHEDULER_FACTORIES: dict[str, Callable[[JobSpec], TrialScheduler]] = {
    "fifo": _fifo,
    "asha": _asha,
    "moasha": _moasha,
}


def make_scheduler(spec: JobSpec) -> TrialScheduler:
    return SCHEDULER_FACTORIES[spec.scheduler](spec)
