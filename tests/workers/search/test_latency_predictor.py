"""The device's latency model inside a search: a candidate whose predicted latency breaks
``max_latency_ms`` is refused before it is built (infeasible, nothing timed or trained) and the
search goes on; the others record their prediction beside their measurement; the model learns
from what the search timed. Real Ray Tune; the model is written as ``calibrate`` writes one."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.latency_features import FEATURES
from tests.workers.search.trial_reports import tiny_spec
from workers.latency_model import LatencyModel, load_model, model_path, setting_of
from workers.search.outcome import PREDICTOR_REJECTED, predictor_summary, screened_count
from workers.search.points import latency_target
from workers.search.screening import SCREENS


def constant_model(setting: str, milliseconds: float) -> LatencyModel:
    """A model that predicts ``milliseconds`` for every network, with no error."""
    return LatencyModel(setting, (0.0,) * len(FEATURES) + (milliseconds,), (0.0,), ())


def spec_of(dataset: Path, **objectives: object):
    return tiny_spec(
        dataset,
        searcher="random",
        scheduler="fifo",
        budget={"max_trials": 3, "epochs_per_trial": 1, "max_concurrent_trials": 1},
        objectives={"constraints": {"max_latency_ms": 200.0}, **objectives},
    )


@pytest.mark.slow
def test_a_search_refuses_predicted_too_slow_candidates_unbuilt_and_learns_from_the_rest(
    local_ray: None, synth_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.search.run import run_search

    monkeypatch.setenv("SCALER_LATENCY_MODELS", str(tmp_path / "models"))
    spec = spec_of(synth_dataset)
    setting = setting_of(latency_target(spec))
    constant_model(setting, 500.0).save(model_path(setting))  # every network "takes 500 ms"

    refused = run_search(spec, tmp_path / "refused", export_front=False)
    assert len(refused.trials) == 3 and refused.front == ()
    for trial in refused.trials:
        assert trial.status == "infeasible" and trial.error.startswith(PREDICTOR_REJECTED)
        assert trial.latency_predicted_ms == 500.0 and trial.latency_ms is None and trial.epochs == 0
    assert predictor_summary(refused.trials)["rejected"] == 3
    # each trial's point was the last of many screened out untrained (``screening.SCREENS``)
    assert screened_count(tmp_path / "refused") == 3 * (SCREENS - 1)

    constant_model(setting, 1.0).save(model_path(setting))  # now every network "takes 1 ms"
    measured = run_search(spec, tmp_path / "measured", export_front=False)
    assert {trial.status for trial in measured.trials} == {"completed"} and measured.front
    assert all(trial.latency_predicted_ms == 1.0 and trial.latency_ms for trial in measured.trials)
    summary = predictor_summary(measured.trials)
    assert summary["rejected"] == 0 and summary["compared"] == 3
    learned = load_model(setting)  # the search's stable timings joined the model's samples
    stable = [
        t
        for t in measured.trials
        if t.latency_stats and t.latency_stats.stable and not t.latency_stats.cached
    ]
    assert learned is not None and len(learned.samples) == len(stable)
    assert {sample.label for sample in learned.samples} == {trial.trial_id for trial in stable}


def test_a_model_that_counts_another_graph_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model of an ONNX Runtime setting fitted on eager features (stored before the runtime's
    graph rules) would mispredict every network: the search does without it and fits a new one."""
    from workers.search.predictor import predictor_config
    from workers.trial import LatencyTarget

    monkeypatch.setenv("SCALER_LATENCY_MODELS", str(tmp_path / "models"))
    target = LatencyTarget(device="cpu", runtime="onnxruntime", threads=1)
    setting = setting_of(target)
    constant_model(setting, 5.0).save(model_path(setting))  # graph "eager": the old count
    assert predictor_config(target) is None
    onnx = constant_model(setting, 5.0)
    LatencyModel(onnx.setting, onnx.weights, onnx.relative_errors, (), graph="onnx").save(model_path(setting))
    config = predictor_config(target)
    assert config is not None and config["graph"] == "onnx"
