"""The device's latency model inside a search (``workers.latency_model``).

At the search's start the model of the job's measurement setting is loaded (when the device was
calibrated, ``scaler latency calibrate``, or an earlier search taught it) and handed to every
trial in its Tune config (weights and errors only). A trial predicts its network's latency from
its shapes before anything is built: when even the low end of the prediction's interval breaks
``max_latency_ms`` the candidate is rejected as infeasible, unbuilt, untimed and untrained;
otherwise the prediction is recorded beside the measurement (``latency_predicted_ms``) so the
job shows how well the model predicts. The front's points are always measured, never predicted.
At the search's end the model learns from every stable measurement the search made (the model is
created once a search has timed enough networks) and is stored for the next search."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from scaler import Detector, NetworkSpec
from scaler.builder import build_modules, route_layers
from scaler.latency_features import EAGER, GraphRules, latency_features
from search_spaces import Constraints, JobSpec
from workers.failures import CandidateError, InfeasibleCandidateError
from workers.latency_model import (
    MIN_SAMPLES,
    LatencyModel,
    LatencySample,
    Prediction,
    fit,
    graph_rules,
    load_model,
    model_path,
    setting_of,
)
from workers.search.outcome import PREDICTOR_REJECTED as REJECTED
from workers.search.outcome import SearchTrial
from workers.trial import LatencyTarget, build_network

LOG = logging.getLogger(__name__)
CONFIG_KEY = "latency_model"  # where a trial's Tune config carries the model


def network_features(
    network: NetworkSpec, input_size: int, batch: int, rules: GraphRules = EAGER
) -> dict[str, float]:
    """The latency features of ``network`` as ``rules``' runtime runs it, built on the meta
    device: no weights, no memory."""
    with torch.device("meta"):  # its modules only: no stride probe, no initialisation
        model = Detector(network, build_modules(network, route_layers(network)))
    return latency_features(model, input_size, batch, rules)


def predictor_config(target: LatencyTarget) -> dict[str, Any] | None:
    """The model of ``target``'s setting, as a Tune config carries it (no samples), or None (also
    when it counts another graph than the target's runtime runs: calibrated before the runtime's
    rules; the search then teaches a new one)."""
    model = _known_model(target)
    return None if model is None else dataclasses.replace(model, samples=()).to_dict()


def _known_model(target: LatencyTarget) -> LatencyModel | None:
    model = load_model(setting_of(target))
    if model is not None and model.graph != graph_rules(target.runtime).name:
        LOG.warning("the latency model of %s counts another graph: not used, refitted", model.setting)
        return None
    return model


class PredictedTooSlowError(InfeasibleCandidateError):
    """A candidate whose predicted latency breaks ``max_latency_ms``: refused before it is built."""

    def __init__(self, reason: str, violation: float, predicted_ms: float) -> None:
        super().__init__(reason, violation)
        self.predicted_ms = predicted_ms


def predict(
    config: dict[str, Any] | None, network: NetworkSpec, target: LatencyTarget, size: int
) -> Prediction | None:
    """The latency ``config``'s model predicts for ``network`` at ``size`` (None: no model)."""
    if not config:
        return None
    rules = graph_rules(target.runtime)
    return LatencyModel.from_dict(config).predict(network_features(network, size, target.batch, rules))


def reject_if_too_slow(prediction: Prediction | None, constraints: Constraints) -> None:
    """Raise ``PredictedTooSlowError`` when even the low end of ``prediction``'s interval is
    over ``max_latency_ms`` (the model is allowed its measured error before a network is refused)."""
    limit = constraints.max_latency_ms
    if prediction is None or limit is None:
        return
    low, high = prediction.interval_ms
    if low > limit:
        raise PredictedTooSlowError(
            f"{REJECTED} {prediction.predicted_ms:.2f} ms ({low:.2f}–{high:.2f}) > max_latency_ms "
            f"{limit:g}: rejected before it was built",
            low / limit - 1.0,
            prediction.predicted_ms,
        )


def learn_from_search(
    spec: JobSpec,
    trials: Sequence[SearchTrial],
    target: LatencyTarget,
    num_classes: Callable[[], int],
) -> LatencyModel | None:
    """The setting's model refitted with the stable measurements of ``trials`` (created when there
    was none and enough networks were timed), stored; None when there was nothing to learn, or
    when the dataset (``num_classes``: read only when there is something to learn) cannot be read
    any more: the search's result does not depend on it."""
    from workers.search.points import trial_config_of

    timed = [
        trial
        for trial in trials
        if trial.latency_stats is not None
        and trial.latency_stats.stable
        and not trial.latency_stats.cached
        and not trial.latency_stats.include_nms
    ]
    if not timed:
        return None
    try:
        classes = num_classes()
    except (CandidateError, OSError, ValueError) as error:
        LOG.warning("the latency model does not learn from this search: %s", error)
        return None
    samples = []
    for trial in timed:
        stats = trial.latency_stats
        assert stats is not None
        config = trial_config_of(spec, trial)
        network = build_network(config, classes)
        features = network_features(network, config.image_size, target.batch, graph_rules(target.runtime))
        samples.append(LatencySample(features, stats.estimate_ms, trial.trial_id))
    if not samples:
        return None
    setting = setting_of(target)
    known = _known_model(target)
    if known is None and len(samples) < MIN_SAMPLES:
        return None
    model = (
        known.updated(samples) if known is not None else fit(setting, samples, graph_rules(target.runtime))
    )
    model.save(model_path(setting))
    return model
