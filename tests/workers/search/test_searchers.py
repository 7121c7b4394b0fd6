"""Searchers and schedulers by name: every named one builds lazily and proposes points in the space."""

from __future__ import annotations

import pytest

from search_spaces import SCHEDULERS, SEARCHERS, load_job_spec
from workers.search.points import flatten
from workers.search.schedulers import SCHEDULER_FACTORIES, make_scheduler
from workers.search.searchers import SEARCHER_FACTORIES, make_searcher
from workers.search.tune_adapter import optuna_study


def test_every_name_a_spec_accepts_has_a_factory():
    assert set(SEARCHER_FACTORIES) == set(SEARCHERS)
    assert set(SCHEDULER_FACTORIES) == set(SCHEDULERS)


@pytest.mark.parametrize("name", SEARCHERS)
def test_searchers_propose_points_inside_the_space_and_take_failures(name):
    spec = load_job_spec("tiny-cpu", dataset="unused").with_changes(searcher=name)
    parameters = {p.name: p for p in spec.space.parameters()}
    searcher = SEARCHER_FACTORIES[name](spec, [])
    for index in range(4):
        point = flatten(searcher.suggest(f"t{index}"))
        assert set(point) == set(parameters)
        for key, value in point.items():
            parameter = parameters[key]
            if parameter.kind == "choice":
                assert value in parameter.choices
            else:
                assert parameter.low <= value <= parameter.high
        if index % 2:
            searcher.on_trial_complete(f"t{index}", {"status": "failed", "error": "boom"})
        else:
            searcher.on_trial_complete(
                f"t{index}", {"status": "completed", "ap": 0.1 * index, "latency_ms": 5.0}
            )
    assert searcher.suggest("next") is not None


def test_initial_points_are_evaluated_first():
    spec = load_job_spec("tiny-cpu", dataset="unused").with_changes(searcher="nsga2")
    chosen = {**spec.space.default_point(), "arch/input_size": 224, "arch/activation": "leaky"}
    searcher = make_searcher(spec, [chosen])
    assert flatten(searcher.suggest("first")) == chosen


@pytest.mark.parametrize("name", SCHEDULERS)
def test_schedulers_build_from_the_spec(name):
    spec = load_job_spec("tiny-cpu", dataset="unused").with_changes(scheduler=name)
    assert make_scheduler(spec) is not None


@pytest.mark.parametrize("name", ["nsga2", "tpe"])
def test_optuna_learns_only_from_trials_that_ran_to_the_end(name):
    from optuna.trial import TrialState

    spec = load_job_spec("tiny-cpu", dataset="unused").with_changes(searcher=name)
    searcher = make_searcher(spec, [])
    reports = {
        "full": {"status": "completed", "epoch": 3, "ap": 0.3, "latency_ms": 9.0},
        "rung": {"status": "running", "epoch": 1, "ap": 0.01, "latency_ms": 2.0},  # stopped at a rung
        "boom": {"status": "failed", "error": "boom"},
    }
    for trial_id, report in reports.items():
        searcher.suggest(trial_id)
        searcher.on_trial_complete(trial_id, report)
    trials = optuna_study(searcher.searcher).get_trials(deepcopy=False)  # inside the ConcurrencyLimiter
    assert [trial.state for trial in trials] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
    assert trials[0].values == [0.3, 9.0]


def test_the_population_is_sized_to_the_trials_the_budget_runs():
    from workers.search.searchers import population_size

    spec = load_job_spec("tiny-cpu").with_changes(searcher="nsga2", scheduler="fifo")
    by_epochs = spec.with_changes(budget={"max_trials": 144, "epochs_per_trial": 18, "max_trial_epochs": 144})
    assert population_size(by_epochs) == 4  # 8 trials: the smallest population, not 144 // 4
    by_trials = spec.with_changes(budget={"max_trials": 400, "epochs_per_trial": 18})
    assert population_size(by_trials) == 50
    assert population_size(spec.with_changes(budget={"max_trials": 40, "epochs_per_trial": 2})) == 10


def test_optuna_never_trains_a_point_twice_and_tells_a_repeat_its_twins_outcome():
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    from workers.search.searchers import MultiObjectiveOptunaSearch

    searcher = MultiObjectiveOptunaSearch(
        space={"arch/input_size": CategoricalDistribution([64, 96, 128])},
        metric=["ap", "latency_ms"],
        mode=["max", "min"],
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    outcomes = {64: (0.2, 5.0), 96: (0.3, 8.0)}
    trained = []
    for trial_id in ("a", "b"):
        size = searcher.suggest(trial_id)["arch"]["input_size"]
        trained.append(size)
        ap, latency = outcomes.get(size, (0.4, 12.0))
        searcher.on_trial_complete(trial_id, {"status": "completed", "ap": ap, "latency_ms": latency})
    assert trained[0] != trained[1]
    third = searcher.suggest("c")["arch"]["input_size"]
    assert third not in trained  # the one point left, however often the sampler drew the others
    assert searcher.repeats_told > 0
    study = optuna_study(searcher)
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.COMPLETE:  # a repeat carries its twin's values, untrained
            assert trial.values == list(outcomes.get(trial.params["arch/input_size"], (0.4, 12.0)))
    # while "c" trains, its point is taken: a repeat of it is told pruned, not given to Ray again
    fourth = searcher.suggest("d")["arch"]["input_size"]  # all taken: trained after all
    assert fourth in (64, 96, 128)
    states = [t.state for t in study.get_trials(deepcopy=False) if t.params["arch/input_size"] == third]
    assert TrialState.PRUNED in states
