"""Issue 22 (11c): Ray's ASHA, as ``make_scheduler`` builds it, fed the reports a failed or an
infeasible trial makes: no value to rank (a loss of None, an AP 0 of a network never trained) may
neither crash the scheduler nor sit in a rung's record, lowering the bar for the trials after."""

from __future__ import annotations

from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tests.workers.search.trial_reports import tiny_spec, trial_reports
from workers.search.schedulers import make_scheduler

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def _running(**metrics: Any) -> dict[str, Any]:
    return {"status": "running", "epoch": 0, "training_iteration": 1, **metrics}


def _added(scheduler: ASHAScheduler) -> Trial:
    trial = Trial("search_trial", stub=True)
    scheduler.on_trial_add(None, trial)
    return trial


def test_a_failed_trial_under_a_loss_rung_metric_neither_crashes_asha_nor_is_ranked(tmp_path, monkeypatch):
    spec = tiny_spec(tmp_path / "missing", scheduler="asha", scheduling={"rung_metric": "val_loss"})
    failed = trial_reports(spec, monkeypatch)[-1]  # the dataset is not there: fails before training
    assert failed["status"] == "failed" and failed["val_loss_total"] is None

    scheduler = make_scheduler(spec)
    assert isinstance(scheduler, ASHAScheduler)
    healthy, broken = _added(scheduler), _added(scheduler)
    assert scheduler.on_trial_result(None, healthy, _running(val_loss_total=0.5)) == CONTINUE
    report = {**failed, "training_iteration": 1}
    assert scheduler.on_trial_result(None, broken, report) in (CONTINUE, STOP)  # no TypeError
    scheduler.on_trial_complete(None, broken, report)
    # the rung ranks the trials it measured: one worse than the healthy one stops (η = 2)
    assert scheduler.on_trial_result(None, _added(scheduler), _running(val_loss_total=0.6)) == STOP


def test_an_infeasible_trial_is_no_ap_zero_at_an_asha_rung(synth_dataset, monkeypatch):
    spec = tiny_spec(synth_dataset, scheduler="asha", objectives={"constraints": {"max_params": 1000}})
    (infeasible,) = trial_reports(spec, monkeypatch)
    assert infeasible["status"] == "infeasible" and infeasible["ap"] == 0.0

    scheduler = make_scheduler(spec)
    accurate, never_trained = _added(scheduler), _added(scheduler)
    assert scheduler.on_trial_result(None, accurate, _running(ap=0.3)) == CONTINUE
    report = {**infeasible, "training_iteration": 1}
    scheduler.on_trial_result(None, never_trained, report)
    scheduler.on_trial_complete(None, never_trained, report)
    # a trial with less AP than the one measured at the rung stops; a phantom AP 0 would have
    # put the bar (the median) at 0.15 and let it go on
    assert scheduler.on_trial_result(None, _added(scheduler), _running(ap=0.2)) == STOP
