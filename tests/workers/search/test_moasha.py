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


def test_within_the_front_the_trials_adding_most_volume_go_on():
    scheduler = MultiObjectiveASHA(
        ["ap", "latency_ms"],
        ["max", "min"],
        max_t=9,
        grace_period=1,
        reduction_factor=3,
        reference=(0.0, 40.0),
    )
    assert scheduler.decide("fast", 1, {"ap": 0.01, "latency_ms": 1.0}) == CONTINUE  # first at the rung
    # both on the front, one goes on: the accurate newcomer adds 8.7 (AP·ms), the fast one 0.09
    # (crowding alone would keep the older extreme and cut the newcomer)
    assert scheduler.decide("accurate", 1, {"ap": 0.30, "latency_ms": 10.0}) == CONTINUE
    # ⌈3/3⌉ = 1: this one adds 0.95 against the accurate one's 3.0 (and the fast one's 0.04)
    assert scheduler.decide("middle", 1, {"ap": 0.20, "latency_ms": 5.0}) == STOP
    # ⌈4/3⌉ = 2: a newcomer that dominates the middle and the accurate one goes on
    assert scheduler.decide("best", 1, {"ap": 0.50, "latency_ms": 4.0}) == CONTINUE


def test_without_a_reference_the_rung_derives_one():
    scheduler = _scheduler()  # AP 0 and 1.1 × the slowest latency at the rung
    assert scheduler.decide("a", 1, {"ap": 0.02, "latency_ms": 2.0}) == CONTINUE
    # reference latency 1.1 × 10 = 11: b adds 0.28, a 0.16
    assert scheduler.decide("b", 1, {"ap": 0.30, "latency_ms": 10.0}) == CONTINUE
    assert scheduler.decide("c", 1, {"ap": 0.01, "latency_ms": 12.0}) == STOP  # dominated


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


def test_a_rung_can_rank_by_validation_loss_instead_of_accuracy():
    from search_spaces import load_job_spec
    from workers.search.schedulers import make_scheduler

    spec = load_job_spec("tiny-cpu", dataset="unused")
    spec = spec.with_changes(scheduler="moasha", scheduling={"grace_period": 1, "rung_metric": "val_loss"})
    scheduler = make_scheduler(spec)
    assert scheduler.metrics == ["val_loss_total", spec.objectives.latency_metric]
    latency = spec.objectives.latency_metric
    # AP is noise this early; the loss orders the candidates: higher loss at the same latency stops
    assert scheduler.decide("a", 1, {"ap": 0.0, "val_loss_total": 0.30, latency: 10.0}) == CONTINUE
    assert scheduler.decide("b", 1, {"ap": 0.02, "val_loss_total": 0.45, latency: 10.0}) == STOP
    assert scheduler.decide("c", 1, {"ap": 0.01, "val_loss_total": 0.50, latency: 12.0}) == STOP
    assert scheduler.decide("d", 1, {"ap": 0.0, "val_loss_total": 0.20, latency: 11.0}) == CONTINUE
