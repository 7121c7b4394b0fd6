"""More budget for a finished search: resumed with a larger ``max_trials`` (or trial-epoch budget)
it goes on with the same searcher — the trials it ran are kept, not run again, and the searcher
that proposes the new ones is the one that learned from them. Real Ray Tune and Optuna."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import JobSpec, parse_job_spec
from tests.workers.search.trial_reports import tiny_spec

pytestmark = pytest.mark.slow


def _with_budget(spec: JobSpec, **budget: int) -> JobSpec:
    document = spec.model_dump(mode="json")
    document["budget"] = {**document["budget"], **budget}
    return parse_job_spec(document)


def test_a_finished_search_given_more_trials_goes_on_with_its_searcher(
    local_ray: None, synth_dataset: Path, tmp_path: Path
) -> None:
    """NSGA-II here; ``evolve`` (the service's default) in tests/api/test_extend_job.py."""
    from workers.search.run import run_search

    spec = tiny_spec(
        synth_dataset,
        searcher="nsga2",
        scheduler="fifo",
        budget={"max_trials": 2, "epochs_per_trial": 1, "max_concurrent_trials": 1},
    )
    first = run_search(spec, tmp_path, export_front=False)
    assert len(first.trials) == 2
    before = {trial.trial_id: trial for trial in first.trials}

    same = run_search(spec, tmp_path, resume=True, export_front=False)  # no more budget: nothing new
    assert {trial.trial_id for trial in same.trials} == set(before)

    extended = run_search(_with_budget(spec, max_trials=4), tmp_path, resume=True, export_front=False)
    assert len(extended.trials) == 4 and set(before) < {trial.trial_id for trial in extended.trials}
    for trial in extended.trials:
        if trial.trial_id in before:  # kept as they were: never trained again
            assert trial.epochs == before[trial.trial_id].epochs and trial.ap == before[trial.trial_id].ap
    new = [trial for trial in extended.trials if trial.trial_id not in before]
    assert all(trial.status == "completed" for trial in new)
    assert {str(trial.point) for trial in new}.isdisjoint({str(trial.point) for trial in first.trials})

    again = run_search(_with_budget(spec, max_trials=5), tmp_path, resume=True, export_front=False)
    assert len(again.trials) == 5  # a job can be extended any number of times


def test_a_search_bounded_by_trial_epochs_goes_on_when_given_more(
    local_ray: None, synth_dataset: Path, tmp_path: Path
) -> None:
    from workers.search.run import run_search

    spec = tiny_spec(
        synth_dataset,
        searcher="random",
        scheduler="fifo",
        budget={"max_trials": 10, "max_trial_epochs": 2, "epochs_per_trial": 1, "max_concurrent_trials": 1},
    )
    first = run_search(spec, tmp_path, export_front=False)
    spent = sum(trial.epochs for trial in first.trials)
    assert spent >= 2 and len(first.trials) < 10
    extended = run_search(
        _with_budget(spec, max_trial_epochs=spent + 2), tmp_path, resume=True, export_front=False
    )
    assert sum(trial.epochs for trial in extended.trials) >= spent + 2
    assert len(extended.trials) > len(first.trials)


def test_a_search_killed_before_tune_saved_its_state_starts_over_on_resume(
    local_ray: None, synth_dataset: Path, tmp_path: Path
) -> None:
    """Killed between Tune's tuner.pkl and its first experiment state (a runner killed early):
    nothing to restore, so the resumed search runs its budget from the start instead of failing."""
    from workers.search.run import run_search

    spec = tiny_spec(
        synth_dataset,
        searcher="random",
        scheduler="fifo",
        budget={"max_trials": 1, "epochs_per_trial": 1, "max_concurrent_trials": 1},
    )
    run_search(spec, tmp_path, export_front=False)
    for state in (tmp_path / "ray" / "search").glob("experiment_state-*.json"):
        state.unlink()  # as if killed before the first save
    resumed = run_search(spec, tmp_path, resume=True, export_front=False)
    assert len(resumed.trials) == 1 and resumed.trials[0].status == "completed"
