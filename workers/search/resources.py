"""What one trial asks Ray for. ``budget.cpus_per_trial: null`` (the default) becomes the
cluster's CPUs shared among the concurrent trials, at most one node's worth, at least one: a
search of one trial at a time on a 16-core machine trains with 16 threads, not 1. The environment
variable ``SCALER_CPUS_PER_TRIAL`` replaces that rule on a machine shared with other work. A job
that shares the cluster with other jobs (a service's scheduler runs several at once) takes its
share of it: fewer trials at once and, by the rule above, its share of the CPUs among them."""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import ray

from search_spaces import JobSpec


def _alive(nodes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [node for node in (ray.nodes() if nodes is None else nodes) if node.get("Alive", True)]


def _total(nodes: list[dict[str, Any]], resource: str) -> float:
    return sum(float(node.get("Resources", {}).get(resource, 0.0)) for node in nodes)


def auto_cpus_per_trial(
    max_concurrent_trials: int, nodes: list[dict[str, Any]] | None = None, jobs_sharing: int = 1
) -> int:
    """floor(cluster CPUs / jobs sharing the cluster / concurrent trials), capped at the largest
    node's CPUs (a trial runs on one node), at least 1. ``nodes`` as ``ray.nodes()`` returns them
    (the live cluster's when omitted)."""
    alive = _alive(nodes)
    per_node = [float(node.get("Resources", {}).get("CPU", 0.0)) for node in alive]
    share = sum(per_node) / max(1, jobs_sharing) // max(1, max_concurrent_trials)
    return int(max(1.0, min(max(per_node, default=1.0), share)))


def shared_concurrency(
    max_concurrent_trials: int,
    cpus_per_trial: float | None,
    gpus_per_trial: float,
    nodes: list[dict[str, Any]] | None = None,
    jobs_sharing: int = 1,
) -> int:
    """The trials a job runs at once when ``jobs_sharing`` jobs share the cluster: as many as fit
    in its share of the CPUs (a trial of ``cpus_per_trial: null`` counts one) and of the GPUs when
    its trials hold GPUs; at most ``max_concurrent_trials``, at least one."""
    if jobs_sharing <= 1:
        return max_concurrent_trials
    alive = _alive(nodes)
    fits = math.floor(_total(alive, "CPU") / jobs_sharing / (cpus_per_trial or 1.0) + 1e-9)
    if gpus_per_trial > 0:
        fits = min(fits, math.floor(_total(alive, "GPU") / jobs_sharing / gpus_per_trial + 1e-9))
    return max(1, min(max_concurrent_trials, fits))


def resolve_resources(
    spec: JobSpec, jobs_sharing: int = 1, nodes: list[dict[str, Any]] | None = None
) -> JobSpec:
    """The spec with ``cpus_per_trial`` filled in (Ray must be initialised, unless ``nodes`` are
    given); unchanged when set and the job has the cluster to itself. ``jobs_sharing``: the jobs
    running on the cluster at once, this one included (``shared_concurrency`` lowers
    ``max_concurrent_trials`` to its share)."""
    budget = spec.budget
    if budget.cpus_per_trial is not None and jobs_sharing <= 1:
        return spec
    configured = os.environ.get("SCALER_CPUS_PER_TRIAL", "").strip()
    fixed = budget.cpus_per_trial or (_positive(configured) if configured else None)
    if nodes is None and (jobs_sharing > 1 or fixed is None):
        nodes = _alive(None)
    concurrency = shared_concurrency(
        budget.max_concurrent_trials, fixed, budget.gpus_per_trial, nodes, jobs_sharing
    )
    cpus = fixed or auto_cpus_per_trial(concurrency, nodes, jobs_sharing)
    update = {"cpus_per_trial": float(cpus), "max_concurrent_trials": concurrency}
    return spec.model_copy(update={"budget": budget.model_copy(update=update)})


def trial_threads(spec: JobSpec) -> int:
    """The torch threads a trial trains with: the CPUs Ray assigned to it (whole ones, at least
    one); outside a Ray worker, the spec's ``cpus_per_trial``."""
    assigned = None
    if ray.is_initialized():
        with contextlib.suppress(AssertionError):  # Ray answers only inside a worker
            assigned = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return max(1, int(assigned or spec.budget.cpus_per_trial or 1))


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"SCALER_CPUS_PER_TRIAL: a positive number of CPUs, got {text!r}")
    return value
