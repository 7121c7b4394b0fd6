"""A bug in a trial is not a bad network: through a real Tune run, the trial is recorded "errored"
with its traceback and the search goes on; a candidate's own failure is "failed" with its reason."""

from __future__ import annotations

import pytest
from ray import tune

from workers.results import TrialReport, TrialStatus
from workers.search.outcome import SearchTrial
from workers.search.recorder import TrialRecorder


def trainable(config: dict) -> None:
    if config["kind"] == "bug":
        raise TypeError("a bug in Scaler, not in the candidate")
    if config["kind"] == "diverged":
        report = TrialReport(status=TrialStatus.FAILED, final=True, error="NonFiniteLossError: loss nan")
        tune.report(report.to_metrics())
        return
    tune.report(TrialReport(status=TrialStatus.RUNNING, epoch=0, ap=0.2, latency_ms=5.0).to_metrics())
    tune.report(
        TrialReport(status=TrialStatus.COMPLETED, final=True, epoch=0, ap=0.2, latency_ms=5.0).to_metrics()
    )


class Collect:
    def __init__(self) -> None:
        self.finished: dict[str, SearchTrial] = {}

    def on_trial_complete(self, trial: SearchTrial) -> None:
        self.finished[trial.point["arch/kind"]] = trial


def test_a_bug_errors_the_trial_with_its_traceback_and_the_search_goes_on(local_ray, tmp_path):
    collect = Collect()
    grid = tune.Tuner(
        lambda config: trainable(config["arch"]),
        param_space={"arch": {"kind": tune.grid_search(["bug", "diverged", "fine"])}},
        run_config=tune.RunConfig(
            name="errored",
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=[TrialRecorder([collect])],
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    ).fit()
    assert len(grid) == 3
    bug, diverged, fine = (collect.finished[kind] for kind in ("bug", "diverged", "fine"))
    assert bug.status is TrialStatus.ERRORED
    # the traceback, uncoloured: the frame that raised and the error
    assert 'raise TypeError("a bug in Scaler' in bug.error and "\x1b[" not in bug.error
    assert bug.error.endswith("TypeError: a bug in Scaler, not in the candidate")
    assert diverged.status is TrialStatus.FAILED and diverged.error == "NonFiniteLossError: loss nan"
    assert fine.status is TrialStatus.COMPLETED and fine.ap == pytest.approx(0.2)
