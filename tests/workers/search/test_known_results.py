"""Results the search did not measure (imported, warm start) are told to its searcher as completed
trials, never trained: NSGA-II's study holds them in its first generation, whose population its
parents come from, and a resumed, extended search's restored searcher learns the ones that came
since; ``evolve`` breeds children from them; they join the search's front. Real Ray Tune and Optuna."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from search_spaces import JobSpec, parse_job_spec
from tests.workers.search.trial_reports import tiny_spec
from workers.results import TrialStatus
from workers.search.outcome import SearchTrial, TrialOrigin
from workers.search.searchers import KNOWN_ATTRIBUTE, KnownResults, make_searcher


def _known(spec: JobSpec, trial_id: str, lr0: float, ap: float, latency_ms: float) -> SearchTrial:
    point = {**spec.space.default_point(), "hyp/lr0": lr0}
    return SearchTrial(
        trial_id=trial_id,
        status=TrialStatus.COMPLETED,
        point=point,
        ap=ap,
        latency_ms=latency_ms,
        origin=TrialOrigin.IMPORTED,
    )


def _study_trials(search_dir: Path) -> list:
    """The Optuna trials of the search's saved searcher (its latest state on disk)."""
    (saved,) = sorted((search_dir / "ray" / "search").glob("searcher-state-*.pkl"))[-1:]
    state = pickle.loads(saved.read_bytes())
    return state["_ot_study"].trials


@pytest.mark.slow
def test_nsga2_is_told_the_known_results_at_start_and_on_an_extension_without_training_them(
    local_ray: None, synth_dataset: Path, tmp_path: Path
) -> None:
    from workers.search.run import run_search

    budget = {"max_trials": 1, "epochs_per_trial": 1, "max_concurrent_trials": 1}
    spec = tiny_spec(synth_dataset, searcher="nsga2", scheduler="fifo", budget=budget)
    first = _known(spec, "imported-a", 0.0123, ap=0.9, latency_ms=0.001)  # dominates any trial
    result = run_search(spec, tmp_path, export_front=False, known_results=[first])
    trained = [trial for trial in result.trials if trial.origin.trained]
    assert len(trained) == 1 and trained[0].point["hyp/lr0"] != 0.0123  # not trained again
    assert result.front == ("imported-a",) and first in result.trials
    told = [trial for trial in _study_trials(tmp_path) if KNOWN_ATTRIBUTE in trial.user_attrs]
    assert [trial.user_attrs[KNOWN_ATTRIBUTE] for trial in told] == ["imported-a"]
    assert told[0].values == [0.9, 0.001] and told[0].params == {"hyp/lr0": 0.0123, **_fixed(spec)}
    assert told[0].system_attrs == {"NSGAIISampler:generation": 0}  # among NSGA-II's parents

    # extended, with a result imported since: the restored searcher learns it, the first once
    second = _known(spec, "imported-b", 0.0456, ap=0.95, latency_ms=0.002)
    extended = parse_job_spec({**spec.model_dump(mode="json"), "budget": {**budget, "max_trials": 2}})
    again = run_search(extended, tmp_path, resume=True, export_front=False, known_results=[first, second])
    trained = [trial for trial in again.trials if trial.origin.trained]
    assert len(trained) == 2 and {trial.point["hyp/lr0"] for trial in trained}.isdisjoint({0.0123, 0.0456})
    told = [
        trial.user_attrs[KNOWN_ATTRIBUTE]
        for trial in _study_trials(tmp_path)
        if KNOWN_ATTRIBUTE in trial.user_attrs
    ]
    assert told == ["imported-a", "imported-b"]
    assert set(again.front) == {"imported-a", "imported-b"}


def _fixed(spec: JobSpec) -> dict:
    return {name: value for name, value in spec.space.default_point().items() if name != "hyp/lr0"}


def test_evolve_breeds_children_from_a_known_result(synth_dataset: Path) -> None:
    spec = tiny_spec(synth_dataset, searcher="evolve", scheduler="fifo", evolution={"initial_random": 0})
    search = make_searcher(spec)
    known = KnownResults.of(spec, [_known(spec, "imported-a", 0.0123, ap=0.9, latency_ms=0.001)])
    assert known.tell(search) == 1 and known.tell(search) == 0  # told once
    evolve = search.searcher
    assert search.suggest("t0") is not None  # the space's default point comes first
    child, parent = evolve._propose()  # then children of the finished points: the known one alone
    assert parent is not None and parent.trial_id == "imported-a" and parent.objectives == (-0.9, 0.001)
    assert child != parent.point and child["hyp/lr0"] != spec.space.default_point()["hyp/lr0"]


def test_only_measured_results_inside_the_space_are_known(synth_dataset: Path) -> None:
    spec = tiny_spec(synth_dataset, searcher="random", scheduler="fifo")
    kept = _known(spec, "imported-a", 0.0123, ap=0.5, latency_ms=1.0)
    infeasible = SearchTrial(trial_id="b", status=TrialStatus.INFEASIBLE, point=kept.point, latency_ms=1.0)
    untimed = SearchTrial(trial_id="c", status=TrialStatus.COMPLETED, point=kept.point, ap=0.5)
    partial = SearchTrial(trial_id="d", status=TrialStatus.COMPLETED, point={"hyp/lr0": 0.01}, latency_ms=1.0)
    known = KnownResults.of(spec, [kept, infeasible, untimed, partial])
    assert [trial_id for trial_id, _, _ in known.entries] == ["imported-a"]
    assert known.entries[0][2] == (0.5, 1.0)
