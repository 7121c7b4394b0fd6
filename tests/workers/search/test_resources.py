"""Trial resources: ``cpus_per_trial: null`` shares the cluster's CPUs among the concurrent trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import parse_job_spec

ray = pytest.importorskip("ray")


def _node(cpus: float, alive: bool = True) -> dict:
    return {"Alive": alive, "Resources": {"CPU": cpus}}


@pytest.mark.parametrize(
    ("nodes", "concurrent", "expected"),
    [
        ([_node(2)], 1, 2),  # one trial at a time on a 2-core machine trains with both cores
        ([_node(2)], 2, 1),
        ([_node(2)], 3, 1),  # never below one CPU
        ([_node(16)], 3, 5),
        ([_node(0), _node(16), _node(16)], 1, 16),  # a trial runs on one node: capped at its CPUs
        ([_node(0), _node(16), _node(16)], 4, 8),  # a head without CPUs adds none
        ([_node(16), _node(64, alive=False)], 1, 16),  # a dead node adds none
        ([], 1, 1),
    ],
)
def test_auto_cpus_share_the_cluster_among_concurrent_trials(nodes, concurrent, expected):
    from workers.search.resources import auto_cpus_per_trial

    assert auto_cpus_per_trial(concurrent, nodes) == expected


def _spec(dataset: Path, **budget) -> object:
    return parse_job_spec(
        {"name": "resources", "dataset": str(dataset), "budget": {"max_trials": 2, **budget}}
    )


def test_a_spec_resolves_against_the_running_cluster_and_an_explicit_value_stays(tmp_path, monkeypatch):
    from workers.search.resources import resolve_resources, trial_threads

    monkeypatch.delenv("SCALER_CPUS_PER_TRIAL", raising=False)
    assert _spec(tmp_path).budget.cpus_per_trial is None  # the default: decided by the cluster
    started = not ray.is_initialized()  # another test's cluster on this worker is used, never shut down
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cpus = int(ray.cluster_resources()["CPU"])  # one local node
        assert resolve_resources(_spec(tmp_path)).budget.cpus_per_trial == cpus
        shared = resolve_resources(_spec(tmp_path, max_concurrent_trials=cpus))
        assert shared.budget.cpus_per_trial == 1 and trial_threads(shared) == 1
        explicit = _spec(tmp_path, cpus_per_trial=1.5)
        assert resolve_resources(explicit) is explicit and trial_threads(explicit) == 1
    finally:
        if started:
            ray.shutdown()


def test_cpus_per_trial_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="cpus_per_trial"):
        _spec(tmp_path, cpus_per_trial=0)


def test_the_environment_replaces_the_rule_and_a_bad_value_is_named(tmp_path, monkeypatch):
    from workers.search.resources import resolve_resources

    monkeypatch.setenv("SCALER_CPUS_PER_TRIAL", "3")
    assert resolve_resources(_spec(tmp_path)).budget.cpus_per_trial == 3
    assert resolve_resources(_spec(tmp_path, cpus_per_trial=2)).budget.cpus_per_trial == 2  # the spec wins
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv("SCALER_CPUS_PER_TRIAL", bad)
        with pytest.raises(ValueError, match="SCALER_CPUS_PER_TRIAL"):
            resolve_resources(_spec(tmp_path))
