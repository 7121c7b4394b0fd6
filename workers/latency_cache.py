"""The latency measurement cache: a network (its layers and input size; the weights do not matter
to how long it runs) timed once per device, runtime, precision, batch and thread count, whichever
trial or job asks again.

- ``measurement_key`` is the one definition of what makes two measurements the same: a sha256 of a
  canonical JSON of the network's layers (anchor values left out: only their count shapes the
  network) and the settings it was timed with. On a registered device (``search_spaces.devices``)
  the device's name stands for the hardware; on the trial's own device (cpu, cuda) the key holds
  the CPU model or GPU name, the thread count and the torch version, so that two machines never
  share an entry.
- Within a search, a named Ray actor (``LatencyCache``, one per search, named after its folder so a
  resumed search finds it again under the name its trials carry) holds the entries; every trial,
  on whatever node, reaches it by name (``LatencyTarget.cache``). ``LatencyTarget.measure`` asks it
  before timing and stores what it timed, when stable (``LatencyStats.stable``). A measurement
  taken from the cache is marked ``cached``.
- Across jobs the service keeps the entries in its database (``latency_measurements``), preloads a
  job's into its search (``run_search(known_latencies=…)``) and stores each new stable measurement a
  trial's record carries (``LatencyStats.key``): ``storable``.

Only network-only measurements are cached: the time NMS takes depends on the boxes the weights
produce, so a measurement with NMS is always taken anew."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.results import LatencyStats

if TYPE_CHECKING:
    from scaler import NetworkSpec
    from workers.trial import LatencyTarget

CACHE_PREFIX = "scaler-latency-cache-"
RETRIES = 3  # a call to the cache while Ray restarts it (its node was lost) is retried this often
LOG = logging.getLogger(__name__)
# the handles of the caches this process started: Ray ends an actor nobody holds a handle of, its
# name notwithstanding, so the search's driver holds its cache's until ``stop_cache``
_HELD: dict[str, tuple[str, Any]] = {}  # name → (the Ray job that started it, its handle)


def _network_document(network: NetworkSpec) -> list[dict[str, Any]]:
    """The network's layers as plain values, without what does not change how long it runs (its
    name, its default input size, the anchors' values)."""
    layers = []
    for layer in network.layers:
        args = dataclasses.asdict(layer.args) if dataclasses.is_dataclass(layer.args) else layer.args
        if isinstance(args, dict) and "anchors" in args:
            args = {**args, "anchors": [len(level) // 2 for level in args["anchors"]]}
        layers.append(
            {
                "source": layer.source,
                "repeats": layer.repeats,
                "block": layer.block,
                "args": args,
                "activation": layer.activation or network.activation,
            }
        )
    return layers


def _settings(target: LatencyTarget) -> dict[str, Any]:
    """What the measurement runs on and how: the registered device, or this process's own device
    named by its hardware, its thread count and torch version."""
    if target.target_device is not None:
        device = target.target_device
        return {
            "target": device.get("name"),
            "kind": device.get("kind"),
            "runtime": device.get("runtime", "torch"),
            "precision": device.get("precision", "fp32"),
            "batch": device.get("batch", 1),
            "threads": device.get("threads"),
        }
    import torch

    from workers.latency import hardware_name

    kind = torch.device(target.device).type
    return {
        "device": kind,
        "device_name": hardware_name(target.device),
        "torch": torch.__version__,
        "runtime": target.runtime,
        "precision": target.precision,
        "batch": target.batch,
        # as measure_latency times: the target's threads, else those this process uses
        "threads": (target.threads or torch.get_num_threads()) if kind == "cpu" else None,
    }


def measurement_key(network: NetworkSpec, input_size: int, target: LatencyTarget, include_nms: bool) -> str:
    """The cache's key of timing ``network`` at ``input_size`` as ``target`` says (see the module)."""
    document = {
        "network": _network_document(network),
        "input_size": int(input_size),
        "include_nms": bool(include_nms),
        "settings": _settings(target),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_scope(device: str, registered: bool) -> str:
    """Which entries a job may reuse, as the service files them: a registered device's name, else
    the kind of the trial's own device (``cpu``, ``cuda``; the key tells its machines apart)."""
    return device if registered else device.split(":", 1)[0]


def scope_of(stats: LatencyStats) -> str:
    """``cache_scope`` of the device a measurement was taken on."""
    return cache_scope(stats.target or stats.device, stats.target is not None)


def storable(stats: LatencyStats | None) -> bool:
    """Whether a trial's measurement is a new cache entry: keyed, stable, and not itself a hit."""
    return stats is not None and stats.key is not None and stats.stable and not stats.cached


def cache_entry(stats: LatencyStats) -> LatencyStats:
    """The measurement as the cache holds it (neither a hit nor a re-measurement of a trial)."""
    return dataclasses.replace(stats, cached=False, remeasured=0)


class LatencyCache:
    """The search's entries (key → ``LatencyStats.to_dict``), as a named Ray actor."""

    def __init__(self, entries: Mapping[str, dict[str, Any]]) -> None:
        self.entries: dict[str, dict[str, Any]] = dict(entries)

    def preload(self, entries: Mapping[str, dict[str, Any]]) -> None:
        for key, values in entries.items():
            self.entries.setdefault(key, values)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, values: dict[str, Any]) -> None:
        self.entries.setdefault(key, values)

    def size(self) -> int:
        return len(self.entries)


def cache_name(out_dir: str | Path) -> str:
    """The name of the cache actor of the search in ``out_dir`` (a resumed search's trials carry it)."""
    digest = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:16]
    return CACHE_PREFIX + digest


def start_cache(out_dir: str | Path, known: Mapping[str, LatencyStats] | None = None) -> str:
    """Start (or find, on a resume) the search's cache actor, preloaded with ``known``; its name."""
    import ray

    name = cache_name(out_dir)
    job = ray.get_runtime_context().get_job_id()
    for stale in [held for held, (started_by, _) in _HELD.items() if started_by != job]:
        del _HELD[stale]  # handles of an earlier Ray session of this process (a search that raised)
    values = {key: cache_entry(stats).to_dict() for key, stats in (known or {}).items() if stats.stable}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # beside the search's driver (soft: anywhere when that node cannot take it): not on a node
    # that only holds a target device, whose processes serve its measurements
    beside_driver = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
    # a lost node takes the actor with it: Ray starts it again elsewhere with the preloaded
    # entries (those timed since are gone: only time is lost), and calls made meanwhile are retried
    actor = (
        ray.remote(num_cpus=0)(LatencyCache)
        .options(
            name=name,
            get_if_exists=True,
            max_concurrency=1,
            scheduling_strategy=beside_driver,
            max_restarts=-1,
            max_task_retries=RETRIES,
        )
        .remote(values)
    )
    ray.get(actor.preload.remote(values))  # an actor found again keeps its entries and takes these
    _HELD[name] = (job, actor)
    return name


def stop_cache(name: str) -> None:
    """End the search's cache actor (its entries live on in the trials' records)."""
    import ray

    held = _HELD.pop(name, None)
    actor = held[1] if held is not None else _find(name)
    if actor is not None:
        ray.kill(actor)


def _find(name: str) -> Any:
    import ray

    try:
        return ray.get_actor(name)
    except ValueError:  # no such actor (a trial run outside its search): no cache
        return None


def through_cache(name: str, key: str, measure: Callable[[], LatencyStats]) -> LatencyStats:
    """The measurement under ``key`` from the cache named ``name`` (marked ``cached``), else
    ``measure()``'s, keyed, stored in the cache when stable. A cache out of reach costs a
    measurement, never the trial."""
    import ray
    from ray.exceptions import RayActorError

    actor = _find(name)
    try:
        found = ray.get(actor.get.remote(key)) if actor is not None else None
    except RayActorError as error:  # the cache is out of reach (its node lost for good): time it
        LOG.warning("latency cache %s unreachable, measuring without it: %s", name, error)
        actor, found = None, None
    if found is not None:
        return dataclasses.replace(LatencyStats.from_dict(found), key=key, cached=True, remeasured=0)
    stats = dataclasses.replace(measure(), key=key, cached=False)
    if actor is not None and stats.stable:
        try:
            ray.get(actor.put.remote(key, cache_entry(stats).to_dict()))
        except RayActorError as error:  # the measurement stands; only its reuse is lost
            LOG.warning("latency cache %s unreachable, %s not kept: %s", name, key, error)
    return stats
