"""Issue 22 (11b): a resumed search's successive halving holds the rung records made before it
stopped. Tune saves no scheduler state: ``Tuner.restore`` brings back the scheduler pickled when
the search began (``tuner.pkl``), its rungs empty, unless ``keep_rungs`` reads them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import ray
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from search_spaces import JobSpec
from tests.workers.search.trial_reports import tiny_spec
from workers.search.run import EXPERIMENT, _trainable
from workers.search.rungs import RUNGS_FILE, keep_rungs
from workers.search.schedulers import make_scheduler
from workers.search.tune_adapter import restored_scheduler

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP
BUDGET = {"max_trials": 2, "epochs_per_trial": 2, "cpus_per_trial": 1}


def _begin(spec: JobSpec, out_dir: Path) -> TrialScheduler:
    """The scheduler of a search begun as ``run_search`` begins one (its Tuner pickled to disk)."""
    scheduler = make_scheduler(spec)
    keep_rungs(scheduler, out_dir, resume=False)
    tune.Tuner(
        _trainable(spec),
        param_space={"job": spec.model_dump(mode="json")},
        tune_config=tune.TuneConfig(scheduler=scheduler),
        run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(out_dir / "ray")),
    )
    return scheduler


def _resume(spec: JobSpec, out_dir: Path) -> TrialScheduler:
    """The scheduler of the same search resumed as ``run_search`` resumes it."""
    tuner = tune.Tuner.restore(str(out_dir / "ray" / EXPERIMENT), _trainable(spec))
    scheduler = restored_scheduler(tuner)
    keep_rungs(scheduler, out_dir, resume=True)
    return scheduler


def _added(scheduler: TrialScheduler) -> Trial:
    trial = Trial("search_trial", stub=True)
    scheduler.on_trial_add(None, trial)
    return trial


def _at_rung(**metrics: Any) -> dict[str, Any]:
    return {"status": "running", "epoch": 0, "training_iteration": 1, "latency_ms": 5.0, **metrics}


@pytest.mark.parametrize("name", ["moasha", "asha"])
def test_rung_records_come_back_when_a_search_resumes(name, tmp_path):
    spec = tiny_spec(tmp_path / "data", scheduler=name, budget=BUDGET)
    out_dir = tmp_path / "search"
    scheduler = _begin(spec, out_dir)
    assert scheduler.on_trial_result(None, _added(scheduler), _at_rung(ap=0.3)) == CONTINUE
    # the driver stops here; the resumed search's next trial at the rung is worse on every count
    resumed = _resume(spec, out_dir)
    assert resumed.on_trial_result(None, _added(resumed), _at_rung(ap=0.1)) == STOP

    # a fresh search in the same folder starts with empty rungs
    fresh = _begin(spec, out_dir)
    assert fresh.on_trial_result(None, _added(fresh), _at_rung(ap=0.1)) == CONTINUE


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


class DriverCrash(BaseException):
    """Raised from a search callback: no ``Exception``, so nothing on the way catches it and the
    driver's search ends there, as when its process dies (Tune's state is left resumable)."""


@pytest.mark.slow
def test_a_resumed_moasha_search_ranks_against_the_rungs_before_the_crash(local_ray, synth_dataset, tmp_path):
    from workers.search.run import run_search

    spec = tiny_spec(
        synth_dataset, budget={"max_trials": 2, "epochs_per_trial": 2, "max_concurrent_trials": 1}
    )
    out_dir = tmp_path / "search"

    class CrashAtTheFirstEpoch:
        def on_trial_result(self, trial: Any) -> None:
            if trial.history:
                raise DriverCrash

    with pytest.raises(DriverCrash):
        run_search(spec, out_dir, callbacks=[CrashAtTheFirstEpoch()], export_front=False)
    rungs_file = out_dir / RUNGS_FILE
    before = set(json.loads(rungs_file.read_text())["rungs"]["1"])
    assert len(before) == 1  # the first trial reached the rung, then the driver died

    result = run_search(spec, out_dir, resume=True, export_front=False)
    assert len(result.trials) == 2
    after = set(json.loads(rungs_file.read_text())["rungs"]["1"])
    assert before < after  # the record from before the crash, the next trial's beside it
    assert after == {trial.trial_id for trial in result.trials}
