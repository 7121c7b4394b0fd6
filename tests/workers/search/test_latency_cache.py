"""The latency measurement cache: what makes two measurements the same (``measurement_key``), the
search's cache actor on a real Ray (a hit is marked cached, an unstable measurement is never
stored), and a measurement outside a search, which has no cache."""

from __future__ import annotations

import dataclasses

import pytest

from scaler import Detector, NetworkSpec, resolve_network
from workers.latency_cache import measurement_key, start_cache, stop_cache, storable, through_cache
from workers.results import LatencyStats
from workers.trial import LatencyTarget

DEVICE = {
    "name": "edge-cpu",
    "kind": "cpu",
    "runtime": "torch",
    "precision": "fp32",
    "batch": 1,
    "threads": 1,
}
FAST = {"runs": 30, "rounds": 2}


def _network(width: float = 0.125, anchors_scale: float = 1.0) -> NetworkSpec:
    network = resolve_network(
        "yolov4-p5", num_classes=3, input_size=64, depth_multiple=0.33, width_multiple=width
    )
    if anchors_scale == 1.0:
        return network
    detect = network.layers[-1]
    anchors = tuple(tuple(value * anchors_scale for value in level) for level in detect.args.anchors)
    args = dataclasses.replace(detect.args, anchors=anchors)
    return dataclasses.replace(network, layers=(*network.layers[:-1], dataclasses.replace(detect, args=args)))


def _stats(spread: float) -> LatencyStats:
    return LatencyStats(
        p50_ms=10.0, p95_ms=12.0, mean_ms=10.2, std_ms=0.5, runs=30, warmup=5, device="cpu",
        device_name="EPYC", torch_version="2", cuda_version=None, driver_version=None, threads=1,
        precision="fp32", batch=1, input_size=64, include_nms=False, rounds=2,
        round_p50_ms=(10.0, 10.0 * spread), estimate_ms=10.0, spread=spread,
    )  # fmt: skip


def test_the_key_holds_the_network_and_every_setting_but_not_the_weights_or_anchor_values():
    network = _network()
    target = LatencyTarget(threads=1)
    key = measurement_key(network, 64, target, False)
    assert key == measurement_key(network, 64, LatencyTarget(threads=1, runs=60), False)
    assert key == measurement_key(_network(anchors_scale=1.5), 64, target, False)  # fitted anchors
    different = {
        "width": measurement_key(_network(width=0.25), 64, target, False),
        "input size": measurement_key(network, 96, target, False),
        "threads": measurement_key(network, 64, LatencyTarget(threads=2), False),
        "batch": measurement_key(network, 64, LatencyTarget(threads=1, batch=8), False),
        "runtime": measurement_key(network, 64, LatencyTarget(threads=1, runtime="onnxruntime"), False),
        "nms": measurement_key(network, 64, target, True),
        "registered device": measurement_key(network, 64, LatencyTarget(target_device=DEVICE), False),
        "another device": measurement_key(
            network, 64, LatencyTarget(target_device={**DEVICE, "name": "other-cpu"}), False
        ),
        "its threads": measurement_key(
            network, 64, LatencyTarget(target_device={**DEVICE, "threads": 2}), False
        ),
    }
    assert len({key, *different.values()}) == len(different) + 1, different


def test_a_measurement_outside_a_search_has_no_cache_and_no_key():
    stats = LatencyTarget(threads=1, **FAST).measure(Detector(_network()), 64)
    assert stats.key is None and not stats.cached and not storable(stats)


def test_the_searchs_cache_times_a_network_once_and_never_keeps_an_unstable_measurement(local_ray, tmp_path):
    name = start_cache(tmp_path)
    try:
        target = LatencyTarget(threads=1, cache=name, **FAST)
        model = Detector(_network())
        first = target.measure(model, 64)
        if not first.stable:  # the machine was busy: kept out, the next one is timed again
            first = target.measure(model, 64)
        assert first.stable and not first.cached and storable(first)
        again = target.measure(Detector(_network()), 64)  # the same network, other (random) weights
        assert again.cached and again.key == first.key and again.estimate_ms == first.estimate_ms
        assert not storable(again)
        with_nms = target.measure(model, 64, include_nms=True)  # NMS depends on the weights: timed
        assert with_nms.key is None and not with_nms.cached

        timed: list[float] = []

        def unstable() -> LatencyStats:
            timed.append(2.0)
            return _stats(2.0)

        assert not through_cache(name, "k-unstable", unstable).cached
        assert not through_cache(name, "k-unstable", unstable).cached
        assert len(timed) == 2  # never kept: timed each time
        assert through_cache(name, "k-stable", lambda: _stats(1.01)).key == "k-stable"
        assert through_cache(name, "k-stable", unstable).cached and len(timed) == 2
    finally:
        stop_cache(name)


def test_a_search_preloads_known_measurements_and_a_stale_cache_name_measures(local_ray, tmp_path):
    network = _network()
    target = LatencyTarget(threads=1, **FAST)
    key = measurement_key(network, 64, target, False)
    name = start_cache(tmp_path, {key: _stats(1.01), "unstable": _stats(2.0)})
    try:
        hit = dataclasses.replace(target, cache=name).measure(Detector(network), 64)
        assert hit.cached and hit.estimate_ms == 10.0 and hit.device_name == "EPYC"
        assert through_cache(name, "unstable", lambda: _stats(1.0)).cached is False  # not preloaded
    finally:
        stop_cache(name)
    gone = dataclasses.replace(target, cache=name).measure(Detector(network), 64)  # the search ended
    assert not gone.cached and gone.key == key


def test_a_cache_whose_process_dies_comes_back_with_its_preloaded_entries(local_ray, tmp_path):
    """As when its node is lost mid-search: the trials go on asking it, and never fail for it."""
    import ray

    name = start_cache(tmp_path, {"known": _stats(1.01)})
    try:
        ray.kill(ray.get_actor(name), no_restart=False)  # its process ends; Ray starts it again
        assert through_cache(name, "known", lambda: _stats(1.0)).cached
        assert not through_cache(name, "new", lambda: _stats(1.0)).cached
    finally:
        stop_cache(name)


@pytest.mark.parametrize("spread", [1.0, 2.0])
def test_only_a_keyed_stable_first_hand_measurement_is_stored(spread):
    stats = dataclasses.replace(_stats(spread), key="k")
    assert storable(stats) is (spread == 1.0)
    assert not storable(dataclasses.replace(stats, cached=True)) and not storable(_stats(1.0))
