"""MO-ASHA: asynchronous successive halving that ranks by Pareto dominance.

Rungs sit at ``grace_period · η^k`` finished epochs (below the epoch budget). When a trial reaches
a rung, its objective vector (−accuracy, latency) joins the rung's record, and the record is
ordered by non-dominated rank; within a front, by the hypervolume each trial alone adds to it
(against the search's reference point: AP 0 and the reference latency, else 1.1 × the slowest
latency at the rung), then by crowding distance, then by arrival. The trial goes on iff its
position is among the first ⌈n/η⌉ of the n recorded there (itself included); so the first trial
at a rung always goes on, as in ASHA, and a trial on the rung's Pareto front is cut only when
more than ⌈n/η⌉ trials share that front and it adds less volume than those kept — a fast trial
with next to no AP adds next to nothing and goes, where crowding alone would keep it as an
extreme. Trials that report no objective values (failed, infeasible) are never cut. The records
are kept on disk as well (``PersistentRungs``), so that a resumed search's rungs hold the trials
recorded before it stopped."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from search_spaces.budget import rung_epochs
from search_spaces.pareto import minimised_reference, rank_order
from workers.results import TrialReport, TrialStatus
from workers.search.objectives import minimised_vector
from workers.search.rungs import PersistentRungs


class MultiObjectiveASHA(FIFOScheduler, PersistentRungs):
    def __init__(
        self,
        metrics: list[str],
        modes: list[str],
        max_t: int,
        grace_period: int = 1,
        reduction_factor: float = 3,
        reference: Sequence[float | None] | None = None,
    ) -> None:
        """``reference``: per objective, the hypervolume reference in the metric's own units
        (e.g. (0.0, 40.0) for AP and latency ms); None, or a None entry, derives it at each rung
        (0 for a maximised metric, 1.1 × the worst value for a minimised one)."""
        super().__init__()
        if reduction_factor <= 1:
            raise ValueError("reduction_factor: must be > 1")
        self.metrics = metrics
        self.modes = modes
        self.reduction_factor = reduction_factor
        self.reference = list(reference) if reference is not None else [None] * len(metrics)
        if len(self.reference) != len(metrics):
            raise ValueError("reference: one value per metric")
        self.rungs = rung_epochs(grace_period, reduction_factor, max_t)
        self.recorded: dict[int, dict[str, tuple[float, ...]]] = {rung: {} for rung in self.rungs}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def decide(self, trial_id: str, epochs_done: int, result: dict[str, Any]) -> str:
        """CONTINUE or STOP for a trial that has finished ``epochs_done`` epochs."""
        vector = minimised_vector(result, self.metrics, self.modes)
        if vector is None or epochs_done not in self.recorded:
            return TrialScheduler.CONTINUE
        rung = self.recorded[epochs_done]
        if trial_id in rung:
            return TrialScheduler.CONTINUE
        rung[trial_id] = vector
        self.save_rungs()
        ids = list(rung)
        vectors = [rung[item] for item in ids]
        maximised = [mode == "max" for mode in self.modes]
        order = rank_order(vectors, minimised_reference(self.reference, maximised, vectors))
        keep = math.ceil(len(ids) / self.reduction_factor)
        position = order.index(ids.index(trial_id))
        return TrialScheduler.CONTINUE if position < keep else TrialScheduler.STOP

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        report = TrialReport.from_metrics(result)
        if report.status is not TrialStatus.RUNNING or report.epoch < 0:
            return TrialScheduler.CONTINUE
        return self.decide(trial.trial_id, report.epochs, result)

    def debug_string(self) -> str:
        return "MO-ASHA rungs: " + ", ".join(f"{rung} ep: {len(self.recorded[rung])}" for rung in self.rungs)

    def rung_state(self) -> dict[str, Any]:
        """Per rung, the trials recorded there in order of arrival (a tie-break) with their vectors."""
        return {
            "rungs": {
                str(rung): {trial_id: list(vector) for trial_id, vector in recorded.items()}
                for rung, recorded in self.recorded.items()
            }
        }

    def load_rung_state(self, state: dict[str, Any]) -> None:
        for rung, recorded in state.get("rungs", {}).items():
            if int(rung) in self.recorded:
                self.recorded[int(rung)] = {
                    trial_id: tuple(float(value) for value in vector) for trial_id, vector in recorded.items()
                }

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self.rung_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.load_rung_state(json.loads(Path(checkpoint_path).read_text()))
