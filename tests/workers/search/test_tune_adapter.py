"""Issue 24 (5): every function of ``workers.search.tune_adapter`` against the Ray and Optuna
installed (real objects, no stand-ins), so that an upgrade that moves the private attributes the
adapter relies on fails here, naming the function, instead of deep inside a search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch
from ray.tune.stopper import MaximumIterationStopper

from workers.search.tune_adapter import (
    asha_rungs,
    asha_stopped_count,
    first_generation,
    forget_asha_trial,
    optuna_study,
    optuna_trial,
    reattach_run_config,
    restored_scheduler,
    set_asha_rungs,
    set_asha_stopped_count,
    take_optuna_trial,
)

STEPS = 5


def count_steps(config: dict[str, Any]) -> None:
    """A trainable that reports ``STEPS`` results unless stopped."""
    for step in range(STEPS):
        tune.report({"step": step, "x": config["x"]})


class Recording(tune.Callback):
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.results.append(result)


def _experiment(storage: Path) -> str:
    """A search begun and cut before it ran (its Tuner pickled to disk), as a driver that died
    leaves one; its path. Its run config has no callbacks and no stopper."""
    tune.Tuner(
        count_steps,
        param_space={"x": 3},  # not pickled: restore takes it again
        tune_config=tune.TuneConfig(
            scheduler=ASHAScheduler(
                metric="step", mode="max", max_t=STEPS, grace_period=2, reduction_factor=2
            )
        ),
        run_config=tune.RunConfig(name="tiny", storage_path=str(storage), verbose=0),
    )
    path = str(storage / "tiny")
    assert tune.Tuner.can_restore(path)
    return path


def test_a_restored_tuner_runs_with_the_callbacks_and_the_stopper_reattached(local_ray, tmp_path):
    tuner = tune.Tuner.restore(_experiment(tmp_path), count_steps, param_space={"x": 3})

    scheduler = restored_scheduler(tuner)  # the one pickled when the search began
    assert isinstance(scheduler, ASHAScheduler)
    assert scheduler.metric == "step"
    assert [milestone for milestone, _ in asha_rungs(scheduler)[0]] == [4, 2]

    recording = Recording()
    reattach_run_config(tuner, [recording], MaximumIterationStopper(2))
    grid = tuner.fit()

    assert len(grid) == 1 and grid[0].error is None
    assert grid[0].metrics["training_iteration"] == 2  # the reattached stopper stopped it
    assert [result["step"] for result in recording.results] == [0, 1]  # the reattached callback saw it
    assert Path(grid[0].path).parent == tmp_path / "tiny"  # the rest of the run config kept


def _searcher() -> OptunaSearch:
    return OptunaSearch(
        space={"width": CategoricalDistribution([8, 16, 32])},
        metric=["ap", "latency_ms"],
        mode=["max", "min"],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )


def test_the_optuna_trial_behind_a_suggestion_is_the_one_ray_tells_the_study_of():
    searcher = _searcher()
    study = optuna_study(searcher)
    assert isinstance(study, optuna.Study)
    assert study.get_trials() == []

    config = searcher.suggest("a")
    trial = optuna_trial(searcher, "a")
    assert isinstance(trial, optuna.trial.Trial)
    assert trial.params == {"width": config["width"]}
    assert [(held.number, held.state) for held in study.get_trials()] == [(trial.number, TrialState.RUNNING)]
    assert optuna_trial(searcher, "never suggested") is None

    trial.set_constraint("violation", 1.0)  # what the search does to an infeasible trial
    searcher.on_trial_complete("a", {"ap": 0.3, "latency_ms": 5.0})
    told = study.get_trials()[0]
    assert told.state == TrialState.COMPLETE
    assert told.values == [0.3, 5.0]
    assert told.constraints == {"violation": 1.0}


def test_a_taken_optuna_trial_is_told_by_the_caller_and_the_next_suggestion_asks_anew():
    searcher = _searcher()
    searcher.suggest("b")
    taken = take_optuna_trial(searcher, "b")
    assert optuna_trial(searcher, "b") is None
    optuna_study(searcher).tell(taken, None, state=TrialState.PRUNED)
    assert [trial.state for trial in optuna_study(searcher).get_trials()] == [TrialState.PRUNED]

    searcher.suggest("b")  # Ray asks the study for a new trial for the same Tune trial
    again = optuna_trial(searcher, "b")
    assert again is not None and again.number != taken.number
    with pytest.raises(KeyError):
        take_optuna_trial(searcher, "never suggested")


def test_a_trial_added_in_the_first_generation_is_among_nsga2s_first_population():
    sampler = optuna.samplers.NSGAIISampler(population_size=2, seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    distributions = {"width": CategoricalDistribution([0.25, 0.5])}
    added = optuna.trial.create_trial(
        values=[0.3, 5.0],
        params={"width": 0.5},
        distributions=distributions,
        system_attrs=first_generation(sampler),
    )
    study.add_trial(added)
    assert [trial.number for trial in sampler.get_population(study, 0)] == [0]
    assert first_generation(optuna.samplers.TPESampler(seed=0)) == {}  # TPE reads every trial


def _asha() -> ASHAScheduler:
    return ASHAScheduler(metric="ap", mode="max", max_t=4, grace_period=1, reduction_factor=2)


def _added(scheduler: TrialScheduler) -> Trial:
    trial = Trial("count_steps", stub=True)
    scheduler.on_trial_add(None, trial)
    return trial


def test_asha_rung_records_are_read_and_written_through_the_adapter():
    first = _asha()
    assert [[milestone for milestone, _ in rungs] for rungs in asha_rungs(first)] == [[4, 2, 1]]
    good = _added(first)
    assert first.on_trial_result(None, good, {"training_iteration": 1, "ap": 0.5}) == TrialScheduler.CONTINUE
    assert asha_rungs(first)[0][-1] == (1, {good.trial_id: 0.5})  # Ray's own records

    saved = json.loads(json.dumps(asha_rungs(first)))  # as the rung file keeps them: lists
    second = _asha()
    set_asha_rungs(second, saved)
    assert asha_rungs(second) == asha_rungs(first)
    worse = _added(second)  # ranked against the records taken back
    assert second.on_trial_result(None, worse, {"training_iteration": 1, "ap": 0.1}) == TrialScheduler.STOP
    assert asha_stopped_count(second) == 1

    set_asha_stopped_count(second, 7)
    assert asha_stopped_count(second) == 7
    assert "num_stopped=7" in second.debug_string()  # Ray's own counter


def test_a_forgotten_asha_trial_is_no_longer_ranked():
    scheduler = _asha()
    trial = _added(scheduler)
    forget_asha_trial(scheduler, trial.trial_id)
    forget_asha_trial(scheduler, "never added")  # nothing to forget: no error
    with pytest.raises(KeyError):  # Ray no longer knows which bracket the trial ran in
        scheduler.on_trial_result(None, trial, {"training_iteration": 1, "ap": 0.5})
    assert asha_rungs(scheduler)[0][-1] == (1, {})
