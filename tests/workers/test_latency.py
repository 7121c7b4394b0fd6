"""Latency statistics: every field present and consistent (timings themselves live in bench/)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from scaler import ScalingPoint, build_model
from workers.latency import measure_both, measure_latency, summarise_rounds


@pytest.fixture(scope="module")
def small_model():
    return build_model(ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=64, num_classes=3))


def test_network_only_and_with_nms_figures(small_model):
    threads_before = torch.get_num_threads()
    network, with_nms = measure_both(small_model, "cpu", runs=30, warmup=2, threads=1, batch=2)
    for stats in (network, with_nms):
        assert stats.runs == 30 and stats.warmup == 2 and stats.threads == 1 and stats.batch == 2
        assert stats.device == "cpu" and stats.device_name and stats.torch_version == torch.__version__
        assert stats.precision == "fp32" and stats.input_size == 64 and stats.cuda_version is None
        assert 0 < stats.p50_ms <= stats.p95_ms and stats.std_ms >= 0 and stats.mean_ms > 0
        assert stats.rounds == 3 and len(stats.round_p50_ms) == 3  # three rounds of 30 by default
        assert stats.estimate_ms == min(stats.round_p50_ms) and stats.spread >= 1
    assert (network.include_nms, with_nms.include_nms) == (False, True)
    assert torch.get_num_threads() == threads_before  # the thread count is restored
    assert set(network.to_dict()) >= {"p50_ms", "p95_ms", "device", "batch", "precision"}


def test_measuring_leaves_the_model_untouched(small_model):
    before = {k: v.clone() for k, v in small_model.state_dict().items()}
    measure_latency(small_model, runs=30, warmup=1, input_size=96)
    assert all(torch.equal(before[k], v) for k, v in small_model.state_dict().items())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in small_model.modules())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"precision": "fp16"}, "fp16 latency needs a CUDA device"),
        ({"precision": "int8"}, "precision"),
        ({"runs": 10}, "at least 30"),
        ({"rounds": 0}, "rounds"),
        ({"input_size": 100}, "input_size"),
    ],
)
def test_invalid_requests(small_model, options, message):
    with pytest.raises(ValueError, match=message):
        measure_latency(small_model, **options)


def test_a_round_the_machine_slowed_down_does_not_move_the_estimate():
    quiet, busy = [5.0 + 0.01 * i for i in range(30)], [9.0 + 0.01 * i for i in range(30)]
    figures = summarise_rounds([quiet, busy, [value + 0.5 for value in quiet]])
    assert figures["estimate_ms"] == pytest.approx(5.145)  # the quiet round's median
    assert figures["round_p50_ms"] == pytest.approx((5.145, 9.145, 5.645))
    assert figures["spread"] == pytest.approx(9.145 / 5.145)
    assert 5.5 < figures["p50_ms"] < 6  # the pooled median is pulled up by the busy round
    assert figures["p95_ms"] >= 9.0


def test_rounds_that_agree_are_stable_and_ones_that_do_not_are_flagged(small_model):
    stats = measure_latency(small_model, runs=30, rounds=2, warmup=1, input_size=64)
    assert stats.runs == 30 and stats.rounds == 2 and len(stats.round_p50_ms) == 2
    steady = dataclasses.replace(stats, spread=1.1)
    disturbed = dataclasses.replace(stats, spread=1.6)
    assert steady.stable and not disturbed.stable
    assert disturbed.to_dict()["round_p50_ms"] == list(stats.round_p50_ms)
