"""Screening with the device's latency model: a sampled point predicted too slow for
``max_latency_ms`` is told to the searcher as infeasible and never handed to Tune, so the trials go
to points that may keep the constraint. Real searchers (Optuna's and ``evolve``); the model is one
``calibrate`` could have written: latency grows with the image's pixels."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.latency_features import FEATURES
from search_spaces import parse_job_spec
from tests.workers.search.trial_reports import tiny_spec
from workers.latency_model import LatencyModel
from workers.results import TrialReport, TrialStatus
from workers.search.outcome import PREDICTOR_REJECTED, predictor_summary, screened_count
from workers.search.points import flatten, latency_target
from workers.search.screening import Screen, make_screen
from workers.search.searchers import make_searcher

SIZES = [64, 96, 128, 160]
LIMIT_MS = 40.0  # the model: 64 px 12.3 ms, 96 px 27.6 ms, 128 px 49.2 ms, 160 px 76.8 ms


def pixel_model() -> LatencyModel:
    """1 ms per thousand input values (3 × size²), exactly: no error."""
    weights = (*(1000.0 if name == "input_melements" else 0.0 for name in FEATURES), 0.0)
    return LatencyModel("test-setting", weights, (0.0,), ())


def spec_of(dataset: Path, searcher: str):
    document = tiny_spec(dataset, searcher=searcher, scheduler="fifo").model_dump(mode="json")
    document["space"]["architecture"]["input_size"] = SIZES
    document["objectives"]["constraints"] = {"max_latency_ms": LIMIT_MS}
    document["budget"] = {"max_trials": 8, "epochs_per_trial": 1, "max_concurrent_trials": 1}
    document["evolution"] = {"initial_random": 6}  # evolve draws at random before it breeds
    return parse_job_spec(document)


def completed(size: int) -> dict:
    return TrialReport(
        status=TrialStatus.COMPLETED, final=True, ap=0.1, latency_ms=size / 5, image_size=size
    ).to_metrics()


@pytest.mark.parametrize("searcher", ["random", "nsga2", "evolve"])
def test_points_predicted_too_slow_never_become_trials(synth_dataset: Path, tmp_path: Path, searcher: str):
    spec = spec_of(synth_dataset, searcher)
    screen = make_screen(spec, pixel_model().to_dict(), latency_target(spec), lambda: 1)
    assert isinstance(screen, Screen)
    search = make_searcher(spec, weights_dir=tmp_path / "weights", screen=screen, search_dir=tmp_path)
    trained = []
    for number in range(8):
        config = search.suggest(f"trial-{number}")
        assert isinstance(config, dict)
        size = int(flatten(config)["arch/input_size"])
        trained.append(size)
        search.on_trial_complete(f"trial-{number}", completed(size))
    assert set(trained) <= {64, 96}, trained  # never a point the model says breaks 40 ms
    screened = screened_count(tmp_path)
    assert screened >= 1  # the samplers drew 128 and 160 px points: screened out, untrained
    lines = (tmp_path / "screened.jsonl").read_text().splitlines()
    assert all(PREDICTOR_REJECTED in line and '"arch/input_size": 1' in line for line in lines)
    assert predictor_summary([], screened)["screened"] == screened
    if searcher != "evolve":  # Optuna was told: an infeasible complete trial with its violation
        from optuna.trial import TrialState

        from workers.search.tune_adapter import optuna_study

        study = optuna_study(search.searcher.searcher)
        infeasible = [t for t in study.trials if sum(t.constraints.values()) > 0]
        assert len(infeasible) >= screened and all(t.state == TrialState.COMPLETE for t in infeasible)
        assert all(t.params["arch/input_size"] in (128, 160) for t in infeasible)


def test_no_screen_without_a_model_or_a_latency_limit(synth_dataset: Path):
    spec = spec_of(synth_dataset, "random")
    assert make_screen(spec, None, latency_target(spec), lambda: 1) is None
    unbounded = parse_job_spec({**spec.model_dump(mode="json"), "objectives": {"latency": {"runs": 30}}})
    assert make_screen(unbounded, pixel_model().to_dict(), latency_target(unbounded), lambda: 1) is None

    def unreadable() -> int:
        raise OSError("no such dataset")

    assert make_screen(spec, pixel_model().to_dict(), latency_target(spec), unreadable) is None


def test_a_point_whose_network_cannot_be_built_passes_to_its_trial(synth_dataset: Path):
    """The trial records why (a failed candidate); the screen never stops the search over it."""
    spec = spec_of(synth_dataset, "random")
    screen = make_screen(spec, pixel_model().to_dict(), latency_target(spec), lambda: 1)
    assert screen is not None
    assert screen({**spec.space.default_point(), "arch/input_size": 65}) is None  # not a stride multiple
    assert screen({**spec.space.default_point(), "arch/input_size": 160}) is not None
