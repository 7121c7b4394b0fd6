"""Supernet searches (``supernet`` in a job; Once-for-All, BigNAS): the job first trains the
**largest point of its space** — with ``sandwich``, every step also trains the smallest and one
random sub-network on the same batch (``workers.training.sandwich``) — then every candidate is
sliced from the supernet by structure (``scaler.weight_map``) and judged as is
(``fine_tune_epochs: 0``, the paper's §5.5 generalised to width and depth; its batch-norm
statistics re-measured) or after fine-tuning that many epochs.

The supernet is a trial of the job (its own Tune run ``supernet`` beside the search's, recorded,
on the dashboard, exportable). Its weights are saved once it has trained; a resumed job finds
them and does not train it again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scaler import NetworkSpec
from search_spaces import JobSpec, Parameter, Point
from search_spaces.mutation import sample_point
from workers.search.points import trial_config
from workers.trial import build_network

SUPERNET = "supernet"  # the Tune run's name, and what sliced candidates record as their start
KEPT_AXES = ("arch/family", "arch/activation")  # shared by the supernet and all its sub-networks
# a range axis is sampled at this many evenly spaced values: a few dozen structures, each built
# once (``workers.training.sandwich`` caches them), instead of a new one at nearly every step
SANDWICH_LEVELS = 4


def extreme_point(spec: JobSpec, largest: bool) -> Point:
    """The largest (or smallest) network of the space: every numeric architecture axis at its
    top (bottom); the family and activation at their defaults; hyperparameters at their defaults."""
    point = spec.space.default_point()
    pick = max if largest else min
    for parameter in spec.space.architecture.parameters():
        if parameter.name in KEPT_AXES:
            continue
        if parameter.kind == "choice":
            numeric = [value for value in parameter.choices if isinstance(value, int | float)]
            if len(numeric) == len(parameter.choices):
                point[parameter.name] = pick(numeric)
        else:
            assert parameter.low is not None and parameter.high is not None
            point[parameter.name] = parameter.clip(parameter.high if largest else parameter.low)
    return point


def sub_network_sampler(
    spec: JobSpec, supernet_point: Point, num_classes: int
) -> tuple[NetworkSpec, Callable[[random.Random], NetworkSpec]]:
    """The smallest sub-network of the space and a sampler of random ones (family and activation
    the supernet's)."""
    parameters = [_levels(p) for p in spec.space.architecture.parameters() if p.name not in KEPT_AXES]
    kept = {name: supernet_point[name] for name in KEPT_AXES if name in supernet_point}

    def network(point: Point) -> NetworkSpec:
        return build_network(trial_config(spec, {**point, **kept}), num_classes)

    def sample(rng: random.Random) -> NetworkSpec:
        return network(sample_point(parameters, np.random.default_rng(rng.randrange(2**31))))

    return network(extreme_point(spec, largest=False)), sample


def _levels(parameter: Parameter) -> Parameter:
    """A range axis as a choice of ``SANDWICH_LEVELS`` evenly spaced values (ends included)."""
    if parameter.kind == "choice" or parameter.fixed:
        return parameter
    assert parameter.low is not None and parameter.high is not None
    step = (parameter.high - parameter.low) / (SANDWICH_LEVELS - 1)
    values = sorted({parameter.clip(parameter.low + step * level) for level in range(SANDWICH_LEVELS)})
    return Parameter(name=parameter.name, kind="choice", choices=tuple(values))


def supernet_weights(out_dir: Path) -> Path:
    return out_dir / SUPERNET / "weights.pt"


def training_role(spec: JobSpec, out_dir: Path) -> dict[str, Any]:
    """The supernet trial's entry in its Tune config (``workers.search.trainable``)."""
    assert spec.supernet is not None
    return {
        "role": "train",
        "save_to": str(supernet_weights(out_dir)),
        "epochs": spec.supernet.epochs,
        "sandwich": spec.supernet.sandwich,
    }


def slicing_role(spec: JobSpec, out_dir: Path) -> dict[str, Any]:
    """Every candidate's entry: start from the supernet's weights, fine-tune this many epochs."""
    assert spec.supernet is not None
    return {"role": "slice", "path": str(supernet_weights(out_dir)), "epochs": spec.supernet.fine_tune_epochs}
