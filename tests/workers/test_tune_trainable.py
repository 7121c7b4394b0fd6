"""The trial as a Ray Tune function trainable, under a real local Ray and tune.Tuner."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402

from workers.tune_trainable import tune_trial  # noqa: E402

SMALL_POINT = {"family": "large", "stages": 5, "depth_multiple": 0.33, "width_multiple": 0.125}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def _param_space(synth_dataset: Path, epochs: int) -> dict:
    return {
        "data": str(synth_dataset),
        "point": SMALL_POINT,
        "image_size": 64,
        "epochs": epochs,
        "batch_size": 8,
        "latency": {"runs": 30},
    }


@pytest.mark.slow
def test_trainable_reports_every_epoch_and_restores_after_a_crash(local_ray, synth_dataset, tmp_path):
    marker = tmp_path / "crashed-once"

    def crash_once_after_first_epoch(config: dict) -> None:
        if not marker.exists():
            marker.touch()
            tune_trial({**config, "epochs": 1})  # trains and checkpoints epoch 0 …
            raise RuntimeError("injected worker crash")  # … then the worker dies
        tune_trial(config)

    tuner = tune.Tuner(
        tune.with_resources(crash_once_after_first_epoch, {"cpu": 1}),
        param_space=_param_space(synth_dataset, epochs=2),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "results"),
            name="restore",
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    results = tuner.fit()
    result = results[0]
    assert result.error is None
    history = result.metrics_dataframe
    epoch_rows = history[history["final"] != True]  # noqa: E712 - pandas column comparison
    assert marker.exists()  # the first attempt did crash after checkpointing epoch 0
    resumed = epoch_rows[epoch_rows["resumed"] == True]  # noqa: E712
    assert resumed["epoch"].tolist() == [
        1
    ]  # the retry restored epoch 0's checkpoint and trained epoch 1 only
    assert epoch_rows["epoch"].tolist()[-1] == 1
    assert {"ap", "ap50", "latency_ms", "params", "loss_total"} <= set(history.columns)
    assert result.metrics["final"] is True and result.metrics["latency_nms_ms"] > 0
    assert result.checkpoint is not None


@pytest.mark.slow
def test_failed_trial_is_an_errored_trial_with_the_reason(local_ray, synth_dataset, tmp_path):
    space = {**_param_space(synth_dataset, epochs=1), "point": {**SMALL_POINT, "width_multiple": -1}}
    tuner = tune.Tuner(
        tune_trial,
        param_space=space,
        run_config=tune.RunConfig(storage_path=str(tmp_path / "results"), name="failing"),
    )
    results = tuner.fit()
    assert results[0].error is not None and "width_multiple" in str(results[0].error)
