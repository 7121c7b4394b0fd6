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


def _gpu_node(cpus: float, gpus: float) -> dict:
    return {"Alive": True, "Resources": {"CPU": cpus, "GPU": gpus}}


@pytest.mark.parametrize(
    ("nodes", "budget", "sharing", "concurrent", "cpus"),
    [
        ([_node(16)], {"max_concurrent_trials": 4}, 1, 4, 4),  # alone: the whole machine
        ([_node(16)], {"max_concurrent_trials": 4}, 2, 4, 2),  # two jobs: 8 CPUs each
        ([_node(2)], {"max_concurrent_trials": 2}, 2, 1, 1),  # one CPU each: one trial at a time
        ([_node(16)], {"max_concurrent_trials": 8, "cpus_per_trial": 3}, 2, 2, 3),  # 8 // 3
        ([_node(16)], {"max_concurrent_trials": 1, "cpus_per_trial": 12}, 4, 1, 12),  # never below one
        ([_gpu_node(32, 4)], {"max_concurrent_trials": 8, "gpus_per_trial": 1}, 2, 2, 8),  # 2 GPUs each
        ([_gpu_node(32, 1)], {"max_concurrent_trials": 8, "gpus_per_trial": 0.25}, 2, 2, 8),
    ],
)
def test_jobs_sharing_the_cluster_each_take_their_share(
    tmp_path, monkeypatch, nodes, budget, sharing, concurrent, cpus
):
    from workers.search.resources import resolve_resources

    monkeypatch.delenv("SCALER_CPUS_PER_TRIAL", raising=False)
    resolved = resolve_resources(_spec(tmp_path, **budget), jobs_sharing=sharing, nodes=nodes).budget
    assert (resolved.max_concurrent_trials, resolved.cpus_per_trial) == (concurrent, cpus)
