"""Trial records from Tune results, summaries of a search, and the whole-search stopper."""

from __future__ import annotations

import pytest

from search_spaces import Objectives
from workers.search.outcome import SearchTrial, summarise
from workers.search.recorder import record
from workers.search.stopper import SearchStopper

CONFIG = {"job": {}, "arch": {"input_size": 128}, "hyp": {"lr0": 0.004}}


def test_status_of_a_trial_follows_its_last_report():
    running = record("t1", CONFIG, {"status": "running", "epoch": 1, "ap": 0.2, "latency_ms": 5.0})
    assert (
        running.status == "running"
        and running.epochs == 2
        and running.point == {"arch/input_size": 128, "hyp/lr0": 0.004}
    )
    stopped = record("t1", CONFIG, {"status": "running", "epoch": 1, "ap": 0.2}, finished=True)
    assert stopped.status == "stopped"  # the scheduler cut it after its last epoch
    assert (
        record("t2", CONFIG, {"status": "infeasible", "epoch": -1, "error": "params 9 > max_params 1"}).epochs
        == 0
    )
    crashed = record(
        "t3", CONFIG, {"status": "running", "epoch": 0}, finished=True, error="RayActorError: died"
    )
    # the trainable raised: not the candidate's failure (those end the trial normally) but an error
    assert crashed.status == "errored" and crashed.error == "RayActorError: died"


def test_summary_front_and_history_ignore_unmeasured_trials():
    trials = [
        SearchTrial("a", "completed", {}, ap=0.3, latency_ms=10.0, finished_at=1.0),
        SearchTrial("b", "infeasible", {}, latency_ms=1.0, finished_at=2.0, error="too big"),
        SearchTrial("c", "stopped", {}, ap=0.1, latency_ms=2.0, finished_at=3.0),
        SearchTrial("d", "completed", {}, ap=0.05, latency_ms=20.0, finished_at=4.0),  # dominated by a
        SearchTrial("e", "failed", {}, finished_at=5.0, error="boom"),
    ]
    objectives = Objectives(reference_latency_ms=40.0)
    front, volume, history, reference = summarise(trials, objectives)
    assert front == ("c", "a") and reference == (0.0, 40.0)  # fastest first
    assert volume == pytest.approx(0.1 * (40 - 2) + (0.3 - 0.1) * (40 - 10))
    assert len(history) == 5 and history[1] == history[0] and history[-1] == pytest.approx(volume)


def test_stopper_ends_the_search_at_the_trial_epoch_budget_or_on_request():
    budget = SearchStopper(max_trial_epochs=3)
    for _ in range(2):
        budget("t", {"status": "running"})
    budget("t", {"status": "completed"})  # final reports are not epochs
    assert not budget.stop_all()
    budget("u", {"status": "running"})
    assert budget.stop_all()
    requests = iter([False, True])
    cancel = SearchStopper(requested=lambda: next(requests), interrupt=lambda: False)
    assert not cancel.stop_all()
    cancel._checked_at = 0.0  # polled at most once a second: let a second pass
    assert cancel.stop_all()  # a run that cannot be interrupted ends
