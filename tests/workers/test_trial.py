"""One trial end to end, without Ray and under a real Ray Tune Tuner."""

from __future__ import annotations

import json

import pytest

from scaler import ScalingPoint, SpecError
from workers.data.open import open_dataset
from workers.training.hyp import Hyperparameters
from workers.trial import LatencyTarget, TrialConfig, run_trial

SMALL_POINT = {"family": "large", "stages": 5, "depth_multiple": 0.33, "width_multiple": 0.125}


def _config(synth_dataset, tmp_path, **changes):
    values = {
        "data": str(synth_dataset),
        "point": SMALL_POINT,
        "image_size": 64,
        "epochs": 2,
        "batch_size": 8,
        "out_dir": str(tmp_path / "trial"),
        "latency": {"runs": 30},
    }
    return TrialConfig.from_dict({**values, **changes})


def test_run_trial_reports_metrics_latency_and_cost(synth_dataset, tmp_path):
    seen = []
    result = run_trial(
        _config(synth_dataset, tmp_path), on_epoch=lambda r, trainer, latency: seen.append(r.epoch)
    )
    assert result.status == "completed" and result.error is None
    assert seen == [0, 1] and result.epochs == 2 and len(result.history) == 2
    assert 0 <= result.metrics.ap <= 1 and result.params > 0 and result.gflops > 0
    assert result.latency.include_nms is False and result.latency_with_nms.include_nms is True
    assert result.latency.input_size == 64 and result.checkpoint.endswith("last.pt")
    # the record is the config it trained: the point built for the data's classes, read back whole
    classes = open_dataset(synth_dataset).num_classes
    recorded = TrialConfig.from_dict(result.config)
    assert recorded == _config(synth_dataset, tmp_path).for_classes(classes)
    assert recorded.point == ScalingPoint(**SMALL_POINT, input_size=64, num_classes=classes)
    assert result.to_dict()["metrics"]["ap"] == result.metrics.ap


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"hyp": {"lr0": 1e12, "momentum": 0.98, "warmup_epochs": 0.0, "mosaic": 0.0}, "nominal_batch": 8},
            "non-finite loss",
        ),
        ({"point": None, "model": "yolov4-tiny", "image_size": 70}, "input_size"),
    ],
)
def test_failing_trials_are_recorded_with_their_reason(synth_dataset, tmp_path, changes, reason):
    result = run_trial(_config(synth_dataset, tmp_path, **changes))
    assert result.status == "failed" and reason in result.error


def test_missing_dataset_fails_the_trial_not_the_caller(tmp_path):
    result = run_trial(TrialConfig(data=str(tmp_path / "nowhere"), epochs=1))
    assert result.status == "failed" and "does not exist" in result.error


def test_unknown_settings_and_hyperparameters_are_rejected_when_the_trial_is_set_up():
    from workers.training.hyp import HypError

    with pytest.raises(ValueError, match="colour"):
        TrialConfig.from_dict({"data": "x", "colour": "blue"})
    with pytest.raises(HypError, match="warp_speed"):
        TrialConfig.from_dict({"data": "x", "hyp": {"warp_speed": 9}})
    with pytest.raises(HypError, match="mixup"):
        TrialConfig.from_dict({"data": "x", "hyp": {"mixup": 2.0}})
    # a scaling point that makes no network is refused when it is set up, naming the field
    with pytest.raises(SpecError, match="width_multiple"):
        TrialConfig.from_dict({"data": "x", "point": {**SMALL_POINT, "width_multiple": -1}, "image_size": 64})
    with pytest.raises(SpecError, match="input_size"):
        TrialConfig.from_dict({"data": "x", "point": SMALL_POINT, "image_size": 70})
    with pytest.raises(SpecError, match="colour"):
        TrialConfig.from_dict({"data": "x", "point": {**SMALL_POINT, "colour": "blue"}, "image_size": 64})
    # the trial's input size is the point's: one value, never two
    with pytest.raises(ValueError, match="image_size"):
        TrialConfig(data="x", point=ScalingPoint(**SMALL_POINT, input_size=64), image_size=96)


def test_a_trial_config_round_trips_through_its_dict_and_json():
    """What Tune configs, records and exports hold reads back as the same typed config."""
    anchors = ((10.0, 13.0, 16.0, 30.0),) * 4
    point = ScalingPoint(stages=6, depth_exponents=(1, 2, 3, 3, 2, 1), input_size=128, anchors=anchors)
    config = TrialConfig(
        data="data",
        point=point,
        image_size=128,
        restarts=(3, 6),
        hyp=Hyperparameters().replace(lr0=0.02, mixup=0.2),
        latency=LatencyTarget(batch=4, target_device={"name": "edge"}),
        data_roots=("/data",),
    )
    assert TrialConfig.from_dict(config.to_dict()) == config
    assert TrialConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_an_older_record_whose_point_holds_only_the_set_values_loads_with_the_defaults():
    """Records written before the config held a ScalingPoint: the point's other fields, the
    hyperparameters and the latency target take their dataclasses' defaults, the input size is the
    trial's."""
    older = {"data": "data", "point": {"width_multiple": 0.5}, "image_size": 64, "hyp": {"lr0": 0.02}}
    config = TrialConfig.from_dict(older)
    assert config.point == ScalingPoint(width_multiple=0.5, input_size=64)
    assert config.hyp == Hyperparameters(lr0=0.02) and config.latency == LatencyTarget()
    assert TrialConfig.from_dict({"data": "data"}) == TrialConfig(data="data")


def test_running_out_of_memory_is_a_failure_of_the_candidate_other_errors_are_bugs():
    import torch

    from scaler import SpecError
    from workers.data.dataset import DatasetError
    from workers.failures import (
        BadDataError,
        InvalidCandidateError,
        NonFiniteLossError,
        OutOfMemoryCandidateError,
        candidate_error,
    )
    from workers.training.hyp import HypError

    with pytest.raises(RuntimeError) as allocation:
        torch.empty(10**13, dtype=torch.uint8)  # a real allocation failure of the CPU allocator
    for out_of_memory in (allocation.value, MemoryError(), torch.OutOfMemoryError("CUDA out of memory")):
        assert isinstance(candidate_error(out_of_memory), OutOfMemoryCandidateError)
    assert isinstance(candidate_error(DatasetError("data", ["broken.jpg"])), BadDataError)
    assert isinstance(candidate_error(SpecError("width_multiple", "too small")), InvalidCandidateError)
    assert isinstance(candidate_error(HypError("lr0", "negative")), InvalidCandidateError)
    diverged = NonFiniteLossError("non-finite loss")
    assert candidate_error(diverged) is diverged
    # a bug anywhere is not a bad network: not even a ValueError
    for bug in (RuntimeError("shape mismatch"), KeyError("x"), ValueError("bad value"), TypeError("t")):
        assert candidate_error(bug) is None


def test_a_bug_in_a_trial_propagates_instead_of_failing_the_candidate(synth_dataset):
    """Only the candidate's failures end a trial as "failed"; anything else fails loudly."""

    def broken(trainer: object) -> None:
        raise TypeError("a bug in Scaler")

    config = TrialConfig(data=str(synth_dataset), model="yolov4-tiny", image_size=64, epochs=1, batch_size=4)
    with pytest.raises(TypeError, match="a bug in Scaler"):
        run_trial(config, configure=broken)


def test_an_image_broken_after_the_check_fails_the_trial_as_a_data_error(synth_dataset, tmp_path):
    """An image that passed the dataset check but cannot be read when training (garbled in place,
    same size and time, so the check's cache still vouches for it) ends the trial as failed with a
    DatasetError — a candidate failure recorded once, not a crash that Tune would retry."""
    import os
    import shutil

    from workers.data.open import open_dataset

    data = tmp_path / "data"
    shutil.copytree(synth_dataset, data)
    open_dataset(data)  # checked (and remembered) as good
    for image in (data / "images" / "train").iterdir():
        status = image.stat()
        image.write_bytes(b"\0" * status.st_size)
        os.utime(image, ns=(status.st_atime_ns, status.st_mtime_ns))
    result = run_trial(_config(data, tmp_path, epochs=1))
    assert result.status == "failed"
    assert result.error.startswith("DatasetError") and "cannot be read" in result.error
