"""MO-ASHA rung decisions on hand-made rungs."""

from __future__ import annotations

from ray.tune.schedulers import TrialScheduler

from workers.search.moasha import MultiObjectiveASHA

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def _scheduler() -> MultiObjectiveASHA:
    return MultiObjectiveASHA(
        ["ap", "latency_ms"], ["max", "min"], max_t=9, grace_period=1, reduction_factor=3
    )


def test_rungs_follow_grace_period_and_reduction_factor():
    assert _scheduler().rungs == [1, 3]
    assert MultiObjectiveASHA(["ap"], ["max"], max_t=20, grace_period=2, reduction_factor=2).rungs == [
        2,
        4,
        8,
        16,
    ]


def test_the_first_trial_at_a_rung_goes_on_and_dominated_ones_stop():
    scheduler = _scheduler()
    assert scheduler.decide("a", 1, {"ap": 0.30, "latency_ms": 10.0}) == CONTINUE
    assert scheduler.decide("b", 1, {"ap": 0.10, "latency_ms": 20.0}) == STOP  # dominated by a
    assert scheduler.decide("c", 1, {"ap": 0.20, "latency_ms": 30.0}) == STOP  # dominated by a
    # the 4th: keep ⌈4/3⌉ = 2 — a faster trial with less AP is on the front next to a
    assert scheduler.decide("d", 1, {"ap": 0.05, "latency_ms": 2.0}) == CONTINUE
    # epochs between rungs are not decisions
    assert scheduler.decide("b", 2, {"ap": 0.0, "latency_ms": 99.0}) == CONTINUE


def test_a_crowded_front_keeps_its_extremes():
    scheduler = _scheduler()
    front = {"p": (0.10, 1.0), "q": (0.20, 2.0), "r": (0.21, 2.1), "s": (0.22, 2.2), "t": (0.40, 8.0)}
    decisions = {
        name: scheduler.decide(name, 3, {"ap": ap, "latency_ms": ms}) for name, (ap, ms) in front.items()
    }
    # all five are non-dominated; at the 5th arrival ⌈5/3⌉ = 2 survive: the two extremes (infinite
    # crowding distance), so t (an extreme) goes on
    assert decisions["t"] == CONTINUE
    assert decisions["p"] == CONTINUE  # first at the rung
    assert decisions["r"] == STOP  # inside the crowded middle when it arrived


def test_reports_without_objectives_are_never_cut():
    scheduler = _scheduler()
    assert scheduler.decide("x", 1, {"status": "failed"}) == CONTINUE


def test_state_survives_save_and_restore(tmp_path):
    scheduler = _scheduler()
    scheduler.decide("a", 1, {"ap": 0.3, "latency_ms": 10.0})
    scheduler.save(str(tmp_path / "state.pkl"))
    restored = _scheduler()
    restored.restore(str(tmp_path / "state.pkl"))
    assert restored.decide("b", 1, {"ap": 0.1, "latency_ms": 20.0}) == STOP
