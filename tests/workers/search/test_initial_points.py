"""A job may start from user-written candidates (``space.initial_points``): each searcher
evaluates them first, the parameters they leave out at the space's defaults, before any point of
its own; a candidate outside the space is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import SpecLoadError, parse_job_spec
from tests.workers.search.trial_reports import tiny_spec
from workers.results import TrialReport, TrialStatus
from workers.search.points import flatten
from workers.search.searchers import make_searcher

CANDIDATES = [{"arch/input_size": 96, "hyp/lr0": 0.002}, {"arch/input_size": 64}]


def spec_of(dataset: Path, searcher: str, initial_points: list[dict]) -> object:
    document = tiny_spec(dataset, searcher=searcher, scheduler="fifo").model_dump(mode="json")
    document["space"]["architecture"]["input_size"] = [64, 96, 128]
    document["space"]["initial_points"] = initial_points
    document["budget"] = {"max_trials": 6, "epochs_per_trial": 1, "max_concurrent_trials": 1}
    return parse_job_spec(document)


@pytest.mark.parametrize("searcher", ["evolve", "nsga2", "tpe", "random"])
def test_every_searcher_evaluates_the_written_candidates_first(
    synth_dataset: Path, tmp_path: Path, searcher: str
):
    spec = spec_of(synth_dataset, searcher, CANDIDATES)
    search = make_searcher(spec, weights_dir=tmp_path)
    default = spec.space.default_point()
    for number, candidate in enumerate(CANDIDATES):
        point = flatten(search.suggest(f"t{number}"))
        assert point == pytest.approx({**default, **candidate}), point
        done = TrialReport(status=TrialStatus.COMPLETED, final=True, ap=0.1, latency_ms=5.0 + number)
        search.on_trial_complete(f"t{number}", done.to_metrics())
    assert flatten(search.suggest("t2"))  # then its own points


@pytest.mark.parametrize(
    ("candidate", "words"),
    [
        ({"arch/colour": "red"}, "'arch/colour' is not a parameter of this space"),
        ({"arch/input_size": 100}, "is not one of [64, 96, 128]"),
        ({"hyp/lr0": 5.0}, "is outside"),
        ({"hyp/lr0": "fast"}, "is outside"),
    ],
)
def test_a_candidate_outside_the_space_is_refused_naming_it(synth_dataset: Path, candidate: dict, words: str):
    with pytest.raises(SpecLoadError) as caught:
        spec_of(synth_dataset, "evolve", [CANDIDATES[0], candidate])
    assert caught.value.field.startswith("space"), caught.value.field
    assert (
        "initial_points[1]" in f"{caught.value.field} {caught.value.message}"
        and words in caught.value.message
    )
