"""MLflow: one parent run per search, one nested run per trial, through MlflowClient with explicit
run ids (no global active run), so concurrent trials never mix. Params: the trial's point (scaling
and hyperparameters) and fitted anchors, and the anchor fit whole as ``anchors.json`` (anchors,
best possible recall before and after); metrics per epoch (step = epoch); at its end every field of its
record (``SearchTrial.mlflow_fields``: ``final_*`` metrics and ``scaler.*`` tags, the latency
measurement's device, runtime, precision, batch, threads, p95 and rounds among them). The parent
gets the front as CSV, a Pareto plot and the best configs (``finish``)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from search_spaces import JobSpec
from workers.results import TrialStatus
from workers.search.outcome import SearchResult, SearchTrial

# the MLflow run's end for each way a trial ends
TERMINAL: dict[TrialStatus, str] = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.STOPPED: "KILLED",
    TrialStatus.INFEASIBLE: "FINISHED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.ERRORED: "FAILED",
}
ANCHORS_ARTIFACT = "anchors.json"  # a trial's anchor fit (``anchor_fit``), when one ran


class MlflowLogger:
    """A search callback (``on_trial_result`` / ``on_trial_complete`` on SearchTrial records)."""

    def __init__(
        self, tracking_uri: str, experiment: str, spec: JobSpec, parent_run_id: str | None = None
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_id = self._experiment(experiment)
        if parent_run_id is None:
            parent = self.client.create_run(
                self.experiment_id, run_name=spec.name, tags={"scaler.role": "search"}
            )
            parent_run_id = parent.info.run_id
            self._log_params(parent_run_id, _spec_params(spec))
            self.client.log_text(parent_run_id, spec.model_dump_json(indent=2), "job_spec.json")
        self.parent_run_id = parent_run_id
        self.runs: dict[str, str] = self._existing_children()
        self.logged_epochs: dict[str, int] = {}

    def _experiment(self, name: str) -> str:
        """The id of the experiment ``name``, created when missing; another search that creates it
        at the same moment (jobs of one name running at once) is no failure."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _existing_children(self) -> dict[str, str]:
        """Trial runs already created (a resumed search reuses them)."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}'"
        )
        return {
            run.data.tags["scaler.trial_id"]: run.info.run_id
            for run in runs
            if "scaler.trial_id" in run.data.tags
        }

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Params are write-once in MLflow: keys the run already has (a resumed or retried trial)
        are left as they are."""
        from mlflow.entities import Param

        logged = self.client.get_run(run_id).data.params
        items = [Param(key, str(value)[:6000]) for key, value in params.items() if key not in logged]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def annotate(self, trial: SearchTrial) -> SearchTrial:
        """The record with its MLflow run id (the run is created on first sight)."""
        return dataclasses.replace(trial, mlflow_run_id=self._run_for(trial))

    def _run_for(self, trial: SearchTrial) -> str:
        if trial.trial_id not in self.runs:
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"trial-{trial.trial_id}",
                tags={"mlflow.parentRunId": self.parent_run_id, "scaler.trial_id": trial.trial_id},
            )
            self.runs[trial.trial_id] = run.info.run_id
            self._log_params(run.info.run_id, dict(trial.point))
        return self.runs[trial.trial_id]

    def on_trial_result(self, trial: SearchTrial) -> None:
        run_id = self._run_for(trial)
        done = self.logged_epochs.get(trial.trial_id, 0)
        for row in trial.history[done:]:
            step = int(row.get("epoch", 0))
            for key, value in row.items():
                if key != "epoch":
                    self.client.log_metric(run_id, key, value, step=step)
        self.logged_epochs[trial.trial_id] = len(trial.history)

    def on_trial_complete(self, trial: SearchTrial) -> None:
        self.on_trial_result(trial)
        run_id = self.runs[trial.trial_id]
        self._log_record(run_id, trial)
        if trial.anchors:  # the fitted anchors are a setting of the network: a parameter too
            self._log_params(run_id, {"anchors": trial.anchors})
        if trial.anchor_recall_before is not None:  # the fit, whole: anchors and recall before and after
            self.client.log_text(run_id, json.dumps(anchor_fit(trial), indent=2), ANCHORS_ARTIFACT)
        self.client.set_terminated(run_id, TERMINAL.get(trial.status, "FINISHED"))

    def on_trial_remeasured(self, trial: SearchTrial) -> None:
        """Its latency timed again at the search's end: the run's final figures are the new ones."""
        self._log_record(self._run_for(trial), trial)

    def _log_record(self, run_id: str, trial: SearchTrial) -> None:
        from mlflow.entities import Metric, RunTag

        metrics, tags = trial.mlflow_fields()  # the record's fields, the latency measurement's too
        timestamp = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(key, value, timestamp, 0) for key, value in sorted(metrics.items())],
            tags=[RunTag(key, value) for key, value in sorted(tags.items())],
        )

    def finish(self, result: SearchResult, spec: JobSpec) -> None:
        """The parent's summary: front CSV, Pareto plot, best configs, hypervolume."""
        run_id = self.parent_run_id
        self.client.log_metric(run_id, "hypervolume", result.hypervolume)
        for step, value in enumerate(result.hypervolume_history):
            self.client.log_metric(run_id, "hypervolume_history", value, step=step)
        by_id = {trial.trial_id: trial for trial in result.trials}
        front = [by_id[trial_id] for trial_id in result.front]
        self.client.log_text(run_id, _front_csv(front), "pareto/front.csv")
        self.client.log_text(
            run_id,
            json.dumps([t.to_dict() for t in front], indent=2, default=str),
            "pareto/best_configs.json",
        )
        with tempfile.TemporaryDirectory() as folder:
            plot = Path(folder) / "pareto.png"
            pareto_plot(list(result.trials), front, spec, plot)
            self.client.log_artifact(run_id, str(plot), "pareto")
        self.client.set_terminated(run_id, "FINISHED")


def anchor_fit(trial: SearchTrial) -> dict[str, Any]:
    """The trial's anchor fit as its run's ``anchors.json`` holds it: the anchors it trained with
    (per level, w,h pairs in input pixels; null: the network's own, which the fit did not beat) and
    their best possible recall before and after the fit."""
    return {
        "anchors": json.loads(trial.anchors) if trial.anchors else None,
        "image_size": trial.image_size,
        "recall_before": trial.anchor_recall_before,
        "recall_after": trial.anchor_recall_after,
    }


def _spec_params(spec: JobSpec) -> dict[str, Any]:
    return {
        "searcher": spec.searcher,
        "scheduler": spec.scheduler,
        "seed": spec.seed,
        "dataset": spec.dataset,
        "accuracy": spec.objectives.accuracy,
        "latency_device": spec.objectives.latency.device,
        "latency_batch": spec.objectives.latency.batch,
        "latency_precision": spec.objectives.latency.precision,
        "max_trials": spec.budget.max_trials,
        "epochs_per_trial": spec.budget.epochs_per_trial,
    }


def _front_csv(front: list[SearchTrial]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = sorted({key for trial in front for key in trial.point})
    writer.writerow(["trial_id", "ap", "ap50", "latency_ms", "latency_nms_ms", "params", "gflops", *keys])
    for t in front:
        writer.writerow(
            [
                t.trial_id,
                t.ap,
                t.ap50,
                t.latency_ms,
                t.latency_nms_ms,
                t.params,
                t.gflops,
                *(t.point.get(k) for k in keys),
            ]
        )
    return buffer.getvalue()


def pareto_plot(trials: list[SearchTrial], front: list[SearchTrial], spec: JobSpec, path: Path) -> Path:
    """AP against latency: every measured trial, the front joined, infeasible ones as crosses."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    objectives = spec.objectives
    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=120)
    measured = [t for t in trials if t.objective_vector(objectives) is not None]
    infeasible = [t for t in trials if t.status == "infeasible" and t.latency_ms is not None]
    axes.scatter(
        [t.latency(objectives) for t in measured],
        [t.accuracy(objectives) for t in measured],
        s=18,
        c="#8aa",
        label="trials",
    )
    if infeasible:
        axes.scatter(
            [t.latency_ms for t in infeasible],
            [0.0] * len(infeasible),
            marker="x",
            c="#c44",
            label="infeasible",
        )
    axes.plot(
        [t.latency(objectives) for t in front],
        [t.accuracy(objectives) for t in front],
        "o-",
        c="#d62",
        label="Pareto front",
    )
    target = objectives.latency
    axes.set_xlabel(f"latency (ms, {target.device}, batch {target.batch}, {target.precision})")
    axes.set_ylabel(objectives.accuracy.upper())
    axes.set_title(spec.name)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return path
