"""Latency on a registered target device (``search_spaces.devices``): the job's device resolved,
the cluster checked for a node that holds it, and each measurement run as a Ray task that asks
for the device's resource, so it runs on that node whichever node trains the candidate.

A node that holds a device carries one unit of ``device:<name>``: one measurement at a time on
it. The task asks for no CPU (a trial waiting for its measurement holds its own CPUs; on a
machine that trains and measures, asking for one could wait for ever), builds the network from
its spec (latency does not depend on the weights) and times it with the device's runtime,
precision, batch and threads. The measurement records the node it ran on and the device's name."""

from __future__ import annotations

import dataclasses
from typing import Any

import ray
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from scaler import Detector, NetworkSpec
from search_spaces import JobSpec
from search_spaces.devices import TargetDevice, preset_devices
from workers.latency import measure_latency
from workers.results import LatencyStats

FIELD = "objectives.latency.device"
MEASURE_TIMEOUT_S = 1800.0  # a device busy with other jobs' measurements queues them


class DeviceUnavailableError(RuntimeError):
    """No node of the cluster holds the job's target device: the job cannot measure latency."""


def target_device_of(spec: JobSpec, given: TargetDevice | None = None) -> TargetDevice | None:
    """The registered device ``spec`` is timed on: ``given`` (a service's registry entry) or the
    preset of that name; None when the spec times on the trial's own device (cpu, cuda[:N])."""
    latency = spec.objectives.latency
    if not latency.registered:
        return None
    if given is not None:
        if given.name != latency.device:
            raise ValueError(f"{FIELD}: the job names {latency.device!r}, the registry gave {given.name!r}")
        return given
    presets = preset_devices()
    if latency.device not in presets:
        raise ValueError(
            f"{FIELD}: {latency.device!r} is not a known device (cpu, cuda, cuda:N or one of "
            f"{', '.join(sorted(presets))}; a service also knows the devices registered with it)"
        )
    return presets[latency.device]


def require_carrier(device: TargetDevice) -> None:
    """Raise ``DeviceUnavailableError`` unless a node of the running cluster carries the device's
    resource (else every measurement would wait for ever)."""
    if ray.cluster_resources().get(device.resource, 0) < 1:
        raise DeviceUnavailableError(
            f"{FIELD}: no node of the Ray cluster holds {device.name!r}: start the node that does "
            f"with --resources '{{\"{device.resource}\": 1}}'"
        )


def target_device_config(spec: JobSpec, given: TargetDevice | None = None) -> dict[str, Any] | None:
    """The device the trials time on, as their Tune config carries it (checked against the
    cluster); None for the trial's own device."""
    device = target_device_of(spec, given)
    if device is None:
        return None
    require_carrier(device)
    return device.model_dump(mode="json")


def local_resources(spec: JobSpec, given: TargetDevice | None = None) -> dict[str, float]:
    """The resources a Ray instance started on this machine for ``spec`` gives its one node: the
    job's target device when it is a CPU (this machine has one; a GPU device is a node's to claim)."""
    device = target_device_of(spec, given)
    return {device.resource: 1.0} if device is not None and device.kind == "cpu" else {}


def measure_on_device(
    device: TargetDevice,
    network: NetworkSpec,
    input_size: int,
    include_nms: bool = False,
    *,
    runs: int,
    rounds: int,
    timeout_s: float = MEASURE_TIMEOUT_S,
) -> LatencyStats:
    """Time ``network`` at ``input_size`` on the node that holds ``device``, as the device runs it."""
    # outside the calling trial's placement group (Tune captures a trial's child tasks into it):
    # the device's resource lies on its own node, not in the trial's bundle
    outside = PlacementGroupSchedulingStrategy(placement_group=None)
    task = ray.remote(_measure).options(
        num_cpus=0, resources={device.resource: 1}, max_retries=0, scheduling_strategy=outside
    )
    reference = task.remote(device.model_dump(mode="json"), network, input_size, include_nms, runs, rounds)
    return LatencyStats.from_dict(ray.get(reference, timeout=timeout_s))


def time_as_device(
    device: TargetDevice,
    network: NetworkSpec,
    input_size: int,
    include_nms: bool = False,
    *,
    runs: int,
    rounds: int,
) -> LatencyStats:
    """Time ``network`` at ``input_size`` here, as ``device`` runs it (its runtime, precision,
    batch and threads), built from its spec (latency does not depend on the weights)."""
    stats = measure_latency(
        Detector(network).eval(),
        device.torch_device,
        input_size,
        batch=device.batch,
        precision=device.precision,
        include_nms=include_nms,
        runs=runs,
        rounds=rounds,
        threads=device.threads,
        runtime=device.runtime,
    )
    return dataclasses.replace(stats, target=device.name)


def _measure(
    device_values: dict[str, Any],
    network: NetworkSpec,
    input_size: int,
    include_nms: bool,
    runs: int,
    rounds: int,
) -> dict[str, Any]:
    """The Ray task: runs on a node that carries the device's resource."""
    stats = time_as_device(
        TargetDevice(**device_values), network, input_size, include_nms, runs=runs, rounds=rounds
    )
    node = ray.get_runtime_context().get_node_id()
    return dataclasses.replace(stats, node_id=node).to_dict()
