"""What one trial asks Ray for. ``budget.cpus_per_trial: null`` (the default) becomes the
cluster's CPUs shared among the concurrent trials, at most one node's worth, at least one: a
search of one trial at a time on a 16-core machine trains with 16 threads, not 1. The environment
variable ``SCALER_CPUS_PER_TRIAL`` replaces that rule on a machine shared with other work."""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import ray

from search_spaces import JobSpec


def auto_cpus_per_trial(max_concurrent_trials: int, nodes: list[dict[str, Any]] | None = None) -> int:
    """floor(cluster CPUs / concurrent trials), capped at the largest node's CPUs (a trial runs
    on one node), at least 1. ``nodes`` as ``ray.nodes()`` returns them (the live cluster's when
    omitted)."""
    alive = [node for node in (ray.nodes() if nodes is None else nodes) if node.get("Alive", True)]
    per_node = [float(node.get("Resources", {}).get("CPU", 0.0)) for node in alive]
    share = sum(per_node) // max(1, max_concurrent_trials)
    return int(max(1.0, min(max(per_node, default=1.0), share)))


def resolve_resources(spec: JobSpec) -> JobSpec:
    """The spec with ``cpus_per_trial`` filled in (Ray must be initialised); unchanged when set."""
    if spec.budget.cpus_per_trial is not None:
        return spec
    configured = os.environ.get("SCALER_CPUS_PER_TRIAL", "").strip()
    cpus = _positive(configured) if configured else auto_cpus_per_trial(spec.budget.max_concurrent_trials)
    return spec.model_copy(update={"budget": spec.budget.model_copy(update={"cpus_per_trial": float(cpus)})})


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
