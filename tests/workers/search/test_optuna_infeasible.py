"""Issue 22 (11d): an infeasible trial (a constraint broken before training) is told to Optuna as
infeasible, through Optuna's constraints, never as a complete trial whose AP 0 and real latency
could join the study's Pareto front and breed (NSGA-II) or shape the good density (TPE)."""

from __future__ import annotations

import pytest

from tests.workers.search.trial_reports import tiny_spec, trial_reports
from workers.search.searchers import make_searcher
from workers.search.tune_adapter import optuna_study


@pytest.mark.parametrize("name", ["nsga2", "tpe"])
def test_an_infeasible_trial_never_joins_the_studys_front(name, synth_dataset, monkeypatch):
    constraints = {"max_params": 1000}
    spec = tiny_spec(synth_dataset, searcher=name, objectives={"constraints": constraints})
    (infeasible,) = trial_reports(spec, monkeypatch)
    assert infeasible["status"] == "infeasible" and infeasible["latency_ms"] > 0

    searcher = make_searcher(spec)
    searcher.suggest("feasible")
    slower = infeasible["latency_ms"] * 10  # more AP, but far slower: both would be on the front
    completed = {"status": "completed", "epoch": 1, "ap": 0.3, "latency_ms": slower}
    searcher.on_trial_complete("feasible", completed)
    searcher.suggest("infeasible")
    searcher.on_trial_complete("infeasible", infeasible)

    study = optuna_study(searcher.searcher)  # inside the ConcurrencyLimiter
    feasible_trial, infeasible_trial = study.get_trials(deepcopy=False)
    assert [trial.number for trial in study.best_trials] == [feasible_trial.number]
    # Optuna knows it broke a constraint, and by how much: params over the limit, relatively
    violation = infeasible["params"] / constraints["max_params"] - 1
    assert sum(infeasible_trial.constraints.values()) == pytest.approx(violation)
    assert not feasible_trial.constraints

    # both samplers go on sampling with a constrained trial in the study
    for index in range(6):
        point = searcher.suggest(f"more{index}")
        assert point is not None
        report = {"status": "completed", "epoch": 1, "ap": 0.01 * index, "latency_ms": 1.0 + index}
        searcher.on_trial_complete(f"more{index}", report)
    assert searcher.suggest("last") is not None


def test_a_repeat_of_an_infeasible_point_is_told_infeasible_too():
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    from workers.search.searchers import MultiObjectiveOptunaSearch

    searcher = MultiObjectiveOptunaSearch(
        space={"arch/input_size": CategoricalDistribution([64, 96])},
        metric=["ap", "latency_ms"],
        mode=["max", "min"],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    infeasible = {"status": "infeasible", "ap": 0.0, "latency_ms": 2.0, "constraint_violation": 0.5}
    for trial_id in ("a", "b"):
        size = searcher.suggest(trial_id)["arch"]["input_size"]
        report = infeasible if size == 64 else {"status": "completed", "ap": 0.3, "latency_ms": 9.0}
        searcher.on_trial_complete(trial_id, report)
    searcher.suggest("c")  # both points taken: repeats are told their twin's outcome untrained
    assert searcher.repeats_told > 0
    study = optuna_study(searcher)
    small = [t for t in study.get_trials(deepcopy=False) if t.params["arch/input_size"] == 64]
    assert len(small) > 1  # the trained one and its repeats
    assert all(
        t.state == TrialState.COMPLETE and t.constraints == {"constraint_violation": 0.5} for t in small
    )
    assert {trial.params["arch/input_size"] for trial in study.best_trials} == {96}
