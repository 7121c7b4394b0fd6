"""A Tune callback that turns Tune's trials and results into ``SearchTrial`` records and hands
them to the search's callbacks (e.g. the API's database writer) as they arrive.

Each record carries the trial's whole epoch history. A resumed search's recorder is a new one, and
a trial restored from its checkpoint reports only the epochs after it: the recorder is seeded with
the histories recorded before (``TrialRecorder.seed``: the caller's, e.g. the database's, and
Tune's own log of the trial, ``logged_histories``), and an epoch reported again (a trial resumed
from an older checkpoint than its last report) replaces that epoch and the ones after it."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ray.tune import Callback

from workers.results import TrialReport, TrialStatus
from workers.search.outcome import SearchTrial
from workers.search.points import flatten
from workers.tune_trainable import CHECKPOINT_FILE

LOGGER = logging.getLogger(__name__)

EPOCH_KEYS = (
    "epoch",
    "ap",
    "ap50",
    "fitness",
    "latency_ms",
    "loss_total",
    "loss_box",
    "loss_obj",
    "loss_cls",
    "val_loss_total",
)


class SearchCallback(Protocol):
    """Any method may be left out. ``annotate`` runs before the others and may return the record
    with fields filled in (the MLflow logger adds the trial's run id)."""

    def annotate(self, trial: SearchTrial) -> SearchTrial: ...

    def on_search_start(self, mlflow_run_id: str, mlflow_experiment_id: str) -> None: ...

    def on_trial_result(self, trial: SearchTrial) -> None: ...

    def on_trial_complete(self, trial: SearchTrial) -> None: ...

    def on_trial_remeasured(self, trial: SearchTrial) -> None:
        """A finished trial's latency, unstable, was timed again (``workers.search.remeasure``)."""
        ...


History = Sequence[Mapping[str, float]]  # a trial's epoch rows, one per epoch (EPOCH_KEYS)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def record(
    trial_id: str,
    config: dict[str, Any],
    result: dict[str, Any] | None,
    history: Sequence[dict[str, float]] = (),
    finished: bool = False,
    error: str | None = None,
    persisted: Any = None,
) -> SearchTrial:
    """A record from a trial's last result (``TrialReport.from_metrics``). A finished trial whose
    last report is an epoch's was stopped by the scheduler; a trial whose trainable raised (a bug,
    not the candidate: ``error`` holds its traceback) errored. ``persisted``: Tune's last checkpoint
    of the trial, preferred to the path the trial reported (the worker's own disk)."""
    result = result or {}
    report = TrialReport.from_metrics(result)
    status = report.status
    if error is not None:
        status = TrialStatus.ERRORED
    elif finished and status is TrialStatus.RUNNING:
        status = TrialStatus.STOPPED
    return SearchTrial(
        trial_id=trial_id,
        status=status,
        point=flatten(config),
        epochs=report.epochs,
        ap=report.ap,
        ap50=report.ap50,
        fitness=report.fitness,
        latency_ms=report.latency_ms,
        latency_nms_ms=report.latency_nms_ms,
        latency_spread=report.latency_spread,
        latency_stats=report.latency,
        latency_predicted_ms=report.latency_predicted_ms,
        params=report.params,
        gflops=report.gflops,
        image_size=report.image_size,
        anchors=json.dumps([list(level) for level in report.anchors]) if report.anchors else None,
        anchor_recall_before=report.anchor_recall_before,
        anchor_recall_after=report.anchor_recall_after,
        error=error or report.error,
        checkpoint=checkpoint_reference(persisted)
        or (str(result["checkpoint_path"]) if result.get("checkpoint_path") else None),
        finished_at=_number(result.get("timestamp")) or (time.time() if finished else None),
        seconds=_number(result.get("time_total_s")) or 0.0,
        history=tuple(history),
        inherited_from=report.inherited_from,
        initialised_from=report.initialised_from,
        inherited_share=report.inherited_share,
    )


def epoch_row(result: Mapping[str, Any]) -> dict[str, float]:
    """The history row of an epoch's result: its numbers among ``EPOCH_KEYS``."""
    return {key: float(result[key]) for key in EPOCH_KEYS if _number(result.get(key)) is not None}


def merge_histories(*histories: History) -> list[dict[str, float]]:
    """One row per epoch, in epoch order; where several histories hold an epoch, the first one's
    row is kept. Rows without an epoch are dropped."""
    by_epoch: dict[float, dict[str, float]] = {}
    for history in histories:
        for row in history:
            epoch = _number(row.get("epoch"))
            if epoch is not None and epoch not in by_epoch:
                by_epoch[epoch] = {key: float(value) for key, value in row.items()}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def logged_histories(results: Iterable[Any]) -> dict[str, list[dict[str, float]]]:
    """Each trial's epoch history as Tune logged it (``Result.metrics_dataframe``: the trial's
    result.json in the run's storage), from the results of a restored search."""
    histories: dict[str, list[dict[str, float]]] = {}
    for result in results:
        frame = getattr(result, "metrics_dataframe", None)
        trial_id = (result.metrics or {}).get("trial_id")
        if frame is None or not trial_id or "status" not in frame.columns:
            continue
        rows = [
            epoch_row(row) for row in frame.to_dict("records") if row.get("status") == TrialStatus.RUNNING
        ]
        histories[str(trial_id)] = merge_histories(rows)
    return histories


class TrialRecorder(Callback):
    """``histories``: the trials' epoch histories recorded before a resume (``seed``)."""

    def __init__(
        self, callbacks: Sequence[object] = (), histories: Mapping[str, History] | None = None
    ) -> None:
        self.callbacks = list(callbacks)
        self.histories: dict[str, list[dict[str, float]]] = {}
        self.finished: dict[str, SearchTrial] = {}
        self.seed(histories or {})

    def seed(self, histories: Mapping[str, History]) -> None:
        """Merge epoch histories recorded before a resume into the recorder's, by epoch (the rows it
        holds already win): a restored trial's record then starts with the epochs it trained."""
        for trial_id, history in histories.items():
            self.histories[trial_id] = merge_histories(self.histories.get(trial_id, ()), history)

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its run config: the live callbacks (clients, sessions) stay out."""
        return {**self.__dict__, "callbacks": []}

    def _emit(self, method: str, trial: SearchTrial) -> SearchTrial:
        """A failing callback (a logger, a database writer) is logged and never stops the search.
        The record as the callbacks annotated it."""
        for callback in self.callbacks:
            annotate = getattr(callback, "annotate", None)
            if annotate is not None:
                try:
                    trial = annotate(trial)
                except Exception:
                    LOGGER.exception(
                        "search callback %s could not annotate trial %s", callback, trial.trial_id
                    )
        for callback in self.callbacks:
            handler = getattr(callback, method, None)
            if handler is None:
                continue
            try:
                handler(trial)
            except Exception:
                LOGGER.exception("search callback %s.%s failed on trial %s", callback, method, trial.trial_id)
        return trial

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if TrialReport.from_metrics(result).status is TrialStatus.RUNNING:
            row = epoch_row(result)
            history = self.histories.setdefault(trial.trial_id, [])
            # a trial restored from an older checkpoint than its last report (a crash, a resume)
            # reports those epochs again: the new report replaces them, one row per epoch
            while history and history[-1].get("epoch", -1.0) >= row.get("epoch", 0.0):
                history.pop()
            history.append(row)
        self._emit("on_trial_result", self._record(trial, result))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, _error_text(trial))

    def _record(
        self,
        trial: Any,
        result: dict | None,
        finished: bool = False,
        error: str | None = None,
        persisted: Any = None,
    ) -> SearchTrial:
        return record(
            trial.trial_id,
            trial.config,
            result,
            self.histories.get(trial.trial_id, ()),
            finished=finished,
            error=error,
            persisted=persisted,
        )

    def remeasured(self, trial: SearchTrial) -> SearchTrial:
        """A finished trial with its latency timed again: kept as its record and told to the
        callbacks (``on_trial_remeasured``); the record as the callbacks annotated it."""
        trial = self._emit("on_trial_remeasured", trial)
        self.finished[trial.trial_id] = trial
        return trial

    def _finish(self, trial: Any, error: str | None) -> None:
        persisted = trial.checkpoint  # Tune's last checkpoint, in the run's storage
        finished = self._record(trial, trial.last_result, finished=True, error=error, persisted=persisted)
        self.finished[trial.trial_id] = finished
        self._emit("on_trial_complete", finished)


def checkpoint_reference(checkpoint: Any) -> str | None:
    """Where Tune persisted a trial's last checkpoint (the run's storage, which every node of a
    cluster reaches): the trainer file's local path, or a URI for remote storage (``s3://…``).
    None when the trial saved no checkpoint."""
    if checkpoint is None:
        return None
    path = f"{checkpoint.path.rstrip('/')}/{CHECKPOINT_FILE}"
    scheme = checkpoint.filesystem.type_name
    return path if scheme == "local" else f"{scheme}://{path}"


TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the frames it writes
ERROR_TEXT_LIMIT = 20_000  # characters of an errored trial's traceback kept on its record


def _error_text(trial: Any) -> str:
    """The traceback Tune saved of a trial that raised (its end, where the cause is)."""
    path = getattr(trial, "error_file", None)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                text = TERMINAL_COLOURS.sub("", handle.read()).strip()
            return text[-ERROR_TEXT_LIMIT:] if text else "trial errored"
        except OSError:
            pass
    return "trial errored"
