"""The latency model per device: its features, its fit (against weights known by construction),
its storage, and the ``scaler latency`` commands on this machine's CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from scaler import Detector, ScalingPoint, compound_scale
from scaler.latency_features import EAGER, FEATURES, ONNX, latency_features
from search_spaces import load_job_spec
from workers.latency_model import (
    LatencyModel,
    LatencySample,
    agreement,
    fit,
    graph_rules,
    load_model,
    space_networks,
)


def network(width: float = 0.25, activation: str = "mish", size: int = 64) -> Detector:
    point = ScalingPoint(
        depth_multiple=0.33, width_multiple=width, input_size=size, num_classes=1, activation=activation
    )
    return Detector(compound_scale(point).to_network())


def test_the_features_follow_the_network_s_shapes() -> None:
    narrow, wide = latency_features(network(0.125), 64), latency_features(network(0.5), 64)
    assert list(narrow) == list(FEATURES)
    for kind in ("conv1x1_gflops", "conv3x3_gflops", "conv_strided_gflops"):
        assert wide[kind] > 3 * narrow[kind] > 0  # FLOPs grow with the square of the width
    assert wide["operators_k"] == narrow["operators_k"]  # the same layers, wider
    leaky = latency_features(network(activation="leaky"), 64)
    assert latency_features(network(), 64)["transcendental_melements"] > 0
    assert (
        leaky["transcendental_melements"] < 0.1 * latency_features(network(), 64)["transcendental_melements"]
    )
    twice = latency_features(network(), 64, batch=2)
    once = latency_features(network(), 64)
    assert twice["conv3x3_gflops"] == pytest.approx(2 * once["conv3x3_gflops"])
    larger = latency_features(network(size=128), 128)
    assert larger["conv3x3_gflops"] == pytest.approx(4 * once["conv3x3_gflops"])


def test_the_onnx_graph_fuses_leaky_into_its_convolutions_and_runs_mish_as_three_passes() -> None:
    """ONNX Runtime folds a ReLU-like activation into the convolution before it and runs the
    exported Mish as softplus, tanh and a product: the features count the graph the runtime runs."""
    leaky, mish = network(activation="leaky"), network()
    eager_leaky, onnx_leaky = latency_features(leaky, 64), latency_features(leaky, 64, rules=ONNX)
    eager_mish, onnx_mish = latency_features(mish, 64), latency_features(mish, 64, rules=ONNX)
    convolutions = [name for name in FEATURES if name.startswith("conv")]
    for name in convolutions:  # the convolutions are the same work in either runtime
        assert onnx_leaky[name] == eager_leaky[name] and onnx_mish[name] == eager_mish[name]
    # every activation that follows a convolution (through its batch norm) is gone; a CSP block's
    # activation after its concatenation and batch norm stays
    layers = sum(isinstance(module, torch.nn.LeakyReLU) for module in leaky.modules())
    fused = (eager_leaky["operators_k"] - onnx_leaky["operators_k"]) * 1000
    assert 0.8 * layers <= round(fused) < layers
    assert onnx_leaky["other_output_melements"] < 0.5 * eager_leaky["other_output_melements"]
    activations = sum(type(module).__name__ == "Mish" for module in mish.modules())
    assert onnx_mish["operators_k"] - eager_mish["operators_k"] == pytest.approx(2 * activations / 1000)
    assert onnx_mish["transcendental_melements"] == pytest.approx(
        2 * eager_mish["transcendental_melements"] - eager_leaky["transcendental_melements"]
    )  # the head's sigmoid is one pass in either graph
    assert graph_rules("onnxruntime") == graph_rules("tensorrt") == ONNX
    assert graph_rules("torch") == graph_rules("torch-compile") == EAGER


def test_a_model_records_the_graph_its_features_count() -> None:
    truth = np.array([30.0, 25.0, 40.0, 0.0, 2.0, 1.5, 20.0, 0.0, 0.8])
    model = fit("cpu-onnxruntime-fp32-b1-t1", synthetic(truth, 12, seed=0), ONNX)
    document = model.to_dict()
    assert document["graph"] == "onnx" and LatencyModel.from_dict(document).graph == "onnx"
    del document["graph"]  # a model stored before the graph rules counted the eager graph
    assert LatencyModel.from_dict(document).graph == "eager"
    assert model.updated(synthetic(truth, 2, seed=1)).graph == "onnx"
    with pytest.raises(ValueError, match="unknown graph rules"):
        LatencyModel.from_dict({**document, "graph": "tflite"})


def synthetic(weights: np.ndarray, count: int, seed: int) -> list[LatencySample]:
    """Networks of the tiny-cpu space whose 'latency' is exactly ``weights`` · features + constant."""
    space = load_job_spec("tiny-cpu").space.architecture
    samples = []
    for label, point in space_networks(space, count, seed):
        features = latency_features(Detector(compound_scale(point).to_network()), point.input_size)
        row = np.array([features[name] for name in FEATURES] + [1.0])
        samples.append(LatencySample(features, float(row @ weights), label))
    return samples


def test_a_latency_that_is_a_non_negative_sum_of_the_features_is_recovered() -> None:
    truth = np.array([30.0, 25.0, 40.0, 0.0, 2.0, 1.5, 20.0, 0.0, 0.8])  # ms per unit; the last: constant
    assert len(truth) == len(FEATURES) + 1
    model = fit("test", synthetic(truth, 24, seed=0))
    held_out = synthetic(truth, 12, seed=1)
    scores = model.accuracy(held_out, tolerance=0.01)
    assert scores["within"] == 1.0 and scores["spearman"] > 0.99
    assert max(abs(error) for error in model.relative_errors) < 0.01
    prediction = model.predict(held_out[0].features)
    low, high = prediction.interval_ms
    assert low <= prediction.predicted_ms <= high
    assert all(weight >= 0 for weight in model.weights)


def test_a_model_learns_from_new_measurements_and_is_stored_whole(tmp_path: Path) -> None:
    truth = np.array([30.0, 25.0, 40.0, 0.0, 2.0, 1.5, 20.0, 0.0, 0.8])
    first = synthetic(truth * 2, 12, seed=2)  # a slower machine, then this one
    model = fit("test", first)
    updated = model.updated(synthetic(truth, 40, seed=3))
    assert len(updated.samples) == 52
    judged = synthetic(truth, 10, seed=4)
    assert updated.accuracy(judged)["median_error"] < model.accuracy(judged)["median_error"]
    path = updated.save(tmp_path / "models" / "test.json")
    again = LatencyModel.from_dict(json.loads(path.read_text()))
    assert again == updated
    document = json.loads(path.read_text())
    document["features"] = ["flops"]
    with pytest.raises(ValueError, match="calibrate the device again"):
        LatencyModel.from_dict(document)
    with pytest.raises(ValueError, match="at least"):
        fit("test", first[:3])


def test_agreement_counts_what_it_says() -> None:
    scores = agreement([10.0, 21.0, 35.0, 50.0], [10.0, 20.0, 30.0, 40.0], tolerance=0.10)
    assert scores["within"] == 0.5 and scores["spearman"] == pytest.approx(1.0)


@pytest.mark.slow
def test_calibrate_predict_and_measure_on_this_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import cli

    monkeypatch.setenv("SCALER_LATENCY_MODELS", str(tmp_path / "models"))
    runner = CliRunner()
    device = ["--device", "cpu", "--threads", "1"]
    missing = runner.invoke(cli, ["latency", "predict", "yolov4-p5", "--img", "64", *device])
    assert missing.exit_code == 2 and "scaler latency calibrate --device cpu" in missing.output
    calibrated = runner.invoke(cli, ["latency", "calibrate", *device, "--networks", "12", "--json"])
    assert calibrated.exit_code == 0, calibrated.output
    summary = json.loads(calibrated.output.strip().splitlines()[-1])
    assert summary["networks"] == 12 and summary["setting"] == "cpu-torch-fp32-b1-t1"
    assert load_model(summary["setting"]) is not None
    point = ["yolov4-p5", "--img", "128", "--depth-multiple", "0.33", "--width-multiple", "0.25"]
    predicted = runner.invoke(cli, ["latency", "predict", *point, *device, "--json"])
    assert predicted.exit_code == 0, predicted.output
    answer = json.loads(predicted.output)
    low, high = answer["interval_ms"]
    assert 0 < low <= answer["predicted_ms"] <= high and answer["input_size"] == 128
    measured = runner.invoke(cli, ["latency", "measure", *point, *device, "--rounds", "1", "--json"])
    assert measured.exit_code == 0, measured.output
    timing = json.loads(measured.output)
    assert timing["median_ms"] > 0 and timing["p95_ms"] >= timing["median_ms"] and timing["threads"] == 1
    unknown = runner.invoke(cli, ["latency", "measure", *point, "--device", "tpu-9"])
    assert unknown.exit_code == 2 and "--device" in unknown.output
