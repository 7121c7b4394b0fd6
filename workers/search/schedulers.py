"""Schedulers by name: ``fifo`` (every trial runs its epochs), ``asha`` (Ray's ASHA on the scalar
accuracy metric, or the validation loss) and ``moasha`` (Pareto-aware successive halving, see
``moasha``). Both successive halvings keep their rung records on disk (``rungs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from search_spaces import JobSpec
from workers.results import UNMEASURED_STATUSES, TrialReport
from workers.search.moasha import MultiObjectiveASHA
from workers.search.rungs import PersistentRungs
from workers.search.searchers import hypervolume_reference, objective_metrics
from workers.search.tune_adapter import (
    asha_rungs,
    asha_stopped_count,
    forget_asha_trial,
    set_asha_rungs,
    set_asha_stopped_count,
)


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


class MeasuredASHA(ASHAScheduler, PersistentRungs):
    """Ray's ASHA, ranking only results that measured the trial: the last report of a failed or
    infeasible trial carries no loss (None, which Ray's ASHA multiplies and raises on) and the AP 0
    of a network that never trained (which would join a rung's record and lower its bar for every
    trial after). Such a report is passed over, the trial left to end as it does."""

    def _measured(self, result: dict[str, Any]) -> bool:
        value = result.get(self.metric)
        return (
            TrialReport.from_metrics(result).status not in UNMEASURED_STATUSES
            and isinstance(value, int | float)
            and value == value  # not NaN
        )

    def _records(self) -> int:
        return sum(len(recorded) for rungs in asha_rungs(self) for _, recorded in rungs)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if not self._measured(result):
            return TrialScheduler.CONTINUE
        before = self._records()
        decision = super().on_trial_result(tune_controller, trial, result)
        if self._records() != before:
            self.save_rungs()
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        if not self._measured(result):
            forget_asha_trial(self, trial.trial_id)
            return
        super().on_trial_complete(tune_controller, trial, result)
        self.save_rungs()

    def rung_state(self) -> dict[str, Any]:
        return {
            "brackets": [
                [
                    [milestone, {key: float(value) for key, value in recorded.items()}]
                    for milestone, recorded in rungs
                ]
                for rungs in asha_rungs(self)
            ],
            "stopped": asha_stopped_count(self),
        }

    def load_rung_state(self, state: dict[str, Any]) -> None:
        set_asha_rungs(self, state.get("brackets", []))
        set_asha_stopped_count(self, int(state.get("stopped", asha_stopped_count(self))))


def _asha(spec: JobSpec) -> TrialScheduler:
    metrics, modes, _ = rung_objectives(spec)
    return MeasuredASHA(
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
