"""Issue 22 (11a): with ``include_nms`` the latency objective is the with-NMS figure; every
epoch's report must carry it, or MO-ASHA finds no objective vector at a rung and cuts nothing."""

from __future__ import annotations

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tests.workers.search.trial_reports import tiny_spec, trial_reports
from workers.search.schedulers import make_scheduler


def test_with_nms_latency_as_the_objective_moasha_still_cuts_a_dominated_trial(synth_dataset, monkeypatch):
    spec = tiny_spec(synth_dataset, objectives={"latency": {"include_nms": True}})
    assert spec.objectives.latency_metric == "latency_nms_ms"
    reports = trial_reports(spec, monkeypatch)
    epochs = [report for report in reports if report["status"] == "running"]
    assert [report["epoch"] for report in epochs] == [0, 1]

    scheduler = make_scheduler(spec)  # MO-ASHA, its one rung at 1 epoch, η = 2
    assert scheduler.rungs == [1]
    first_epoch = epochs[0]
    accurate, poor = Trial("search_trial", stub=True), Trial("search_trial", stub=True)
    # the same network twice at the rung, one with more AP: the other is dominated and stops
    assert scheduler.on_trial_result(None, accurate, {**first_epoch, "ap": 0.3}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, poor, {**first_epoch, "ap": 0.1}) == TrialScheduler.STOP

    # the per-epoch figure is the with-NMS latency (timed once before training), not the network's
    final = reports[-1]
    assert final["status"] == "completed" and final["latency_nms_ms"] > 0
    assert all(report["latency_nms_ms"] > 0 for report in epochs)
    assert epochs[0]["latency_nms_ms"] == epochs[1]["latency_nms_ms"]


def test_max_latency_bounds_the_with_nms_latency_when_that_is_the_objective(synth_dataset):
    """The constraint is on the latency being optimised (and the hypervolume's reference): with
    ``include_nms`` a candidate is judged by its network + NMS time."""
    from workers.search.candidate import prepare
    from workers.search.points import trial_config

    spec = tiny_spec(
        synth_dataset, objectives={"latency": {"include_nms": True}, "constraints": {"max_latency_ms": 0.001}}
    )
    candidate = prepare(spec, trial_config(spec, spec.space.default_point()))
    assert candidate.latency_with_nms is not None
    assert candidate.violations == [
        f"latency {candidate.latency_with_nms.estimate_ms:.2f} ms > max_latency_ms 0.001"
    ]
