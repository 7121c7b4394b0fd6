"""An unstable latency measurement (rounds that disagree: a busy machine) neither joins the front
nor sets the hypervolume's reference until it is timed again; checked against a brute-force front."""

from __future__ import annotations

import dataclasses
import itertools
import random

from search_spaces import Objectives
from search_spaces.pareto import REFERENCE_MARGIN
from workers.results import LatencyStats, TrialStatus
from workers.search.outcome import SearchTrial, reference_point, summarise
from workers.search.remeasure import needs_remeasuring, stablest


def _stats(latency: float, spread: float) -> LatencyStats:
    return LatencyStats(
        p50_ms=latency, p95_ms=latency, mean_ms=latency, std_ms=0.0, runs=30, warmup=5, device="cpu",
        device_name="EPYC", torch_version="2", cuda_version=None, driver_version=None, threads=1,
        precision="fp32", batch=1, input_size=64, include_nms=False, rounds=3,
        round_p50_ms=(latency, latency, latency * spread), estimate_ms=latency, spread=spread,
    )  # fmt: skip


def _trial(
    index: int, ap: float, latency: float, spread: float = 1.0, status: str = "completed"
) -> SearchTrial:
    return SearchTrial(
        trial_id=f"t{index}", status=TrialStatus(status), point={}, ap=ap, latency_ms=latency,
        latency_spread=spread, latency_stats=_stats(latency, spread), finished_at=float(index),
    )  # fmt: skip


def _brute_front(trials: list[SearchTrial]) -> set[str]:
    """Stable measured trials no other stable measured trial dominates."""
    kept = [t for t in trials if t.status.measured and t.latency_stats.stable]
    return {
        t.trial_id
        for t in kept
        if not any(
            o.ap >= t.ap and o.latency_ms <= t.latency_ms and (o.ap > t.ap or o.latency_ms < t.latency_ms)
            for o in kept
        )
    }


def test_an_unstable_point_neither_joins_the_front_nor_sets_the_reference():
    objectives = Objectives()
    trials = [
        _trial(0, 0.30, 20.0),
        _trial(1, 0.40, 40.0),
        _trial(2, 0.45, 10.0, spread=1.6),  # would dominate everything: timed on a busy moment
        _trial(3, 0.50, 482.0, spread=2.3),  # the demo's outlier: would set the reference
        _trial(4, 0.35, 30.0),
    ]
    front, volume, history, reference = summarise(trials, objectives)
    assert set(front) == _brute_front(trials) == {"t0", "t4", "t1"}
    assert reference == reference_point(trials, objectives) == (0.0, REFERENCE_MARGIN * 40.0)
    assert len(history) == len(trials) and history[2] == history[1] and history[3] == history[2]
    # timed again and stable, the point joins the front as its figure says
    retimed = dataclasses.replace(
        trials[2], latency_stats=dataclasses.replace(_stats(12.0, 1.02), remeasured=2)
    )
    retimed = dataclasses.replace(retimed, latency_ms=12.0, latency_spread=1.02)
    front, volume_after, _, _ = summarise([*trials[:2], retimed, *trials[3:]], objectives)
    assert front == ("t2",) and volume_after > volume


def test_random_searches_match_the_brute_force_front_without_their_unstable_points():
    generator = random.Random(3)
    objectives = Objectives()
    for _ in range(50):
        trials = [
            _trial(
                index,
                round(generator.uniform(0.1, 0.6), 3),
                round(generator.uniform(5.0, 500.0), 1),
                spread=generator.choice([1.0, 1.1, 1.3, 2.0]),
                status=generator.choice(["completed", "completed", "stopped", "infeasible"]),
            )
            for index in range(generator.randint(1, 12))
        ]
        front, _, _, reference = summarise(trials, objectives)
        assert set(front) == _brute_front(trials)
        stable = [t.latency_ms for t in trials if t.latency_stats.stable]
        assert reference[1] == (REFERENCE_MARGIN * max(stable) if stable else 1.0)


def test_a_measurement_is_timed_again_until_stable_at_most_three_times():
    spreads = itertools.chain([2.0, 1.4, 1.1], itertools.repeat(1.0))
    taken = stablest(lambda: _stats(10.0, next(spreads)))
    assert taken.spread == 1.1 and taken.remeasured == 3
    always = stablest(lambda: _stats(10.0, 1.9))
    assert not always.stable and always.remeasured == 3
    once = stablest(lambda: _stats(10.0, 1.0))
    assert once.remeasured == 1
    assert needs_remeasuring(_trial(0, 0.3, 10.0, spread=1.5))
    assert not needs_remeasuring(_trial(0, 0.3, 10.0, spread=1.5, status="infeasible"))
    done = _trial(0, 0.3, 10.0, spread=1.5)
    done = dataclasses.replace(done, latency_stats=dataclasses.replace(done.latency_stats, remeasured=3))
    assert not needs_remeasuring(done)
