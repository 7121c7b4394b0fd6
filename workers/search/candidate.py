"""A candidate before it trains: its latency predicted (and refused unbuilt when the device's
model says it is too slow), its network built, anchors fitted to the data, parameters and FLOPs
counted, and its untrained network timed on the target device."""

from __future__ import annotations

import dataclasses
from typing import Any

from scaler import Detector, count_parameters
from scaler.profile import count_flops
from search_spaces import Constraints, JobSpec
from workers.anchors import evolve_anchors
from workers.data.open import open_dataset
from workers.failures import InfeasibleCandidateError
from workers.results import LatencyStats
from workers.search.predictor import predict, reject_if_too_slow
from workers.trial import TrialConfig, build_network


@dataclasses.dataclass(frozen=True)
class Candidate:
    config: TrialConfig
    latency: LatencyStats
    params: int
    gflops: float
    violations: list[str]
    anchors_fitted: bool = False
    latency_with_nms: LatencyStats | None = None  # timed when the objective includes NMS
    violation: float = 0.0  # how far over its constraints (``constraint_violation``)
    predicted_ms: float | None = None  # the device's latency model's prediction (``predictor``)
    # the anchor fit's best possible recall of the network's own anchors and of those it trains with
    # (``workers.anchors.AnchorFit``); None: no fit ran
    anchor_recall_before: float | None = None
    anchor_recall_after: float | None = None

    def check_feasible(self) -> None:
        """Raises ``InfeasibleCandidateError`` when the candidate breaks a constraint."""
        if self.violations:
            raise InfeasibleCandidateError("; ".join(self.violations), self.violation)


def constraint_violation(constraints: Constraints, latency_ms: float, params: int, gflops: float) -> float:
    """How far a candidate is over its constraints: each broken limit's overshoot relative to the
    limit, summed (0.5: half as much again as allowed; 0: feasible). Optuna ranks infeasible
    trials by it (``MultiObjectiveOptunaSearch``)."""
    measured = (
        (latency_ms, constraints.max_latency_ms),
        (params, constraints.max_params),
        (gflops, constraints.max_gflops),
    )
    return sum(value / limit - 1.0 for value, limit in measured if limit is not None and value > limit)


def prepare(spec: JobSpec, config: TrialConfig, predictor: dict[str, Any] | None = None) -> Candidate:
    """Predict the candidate's latency with the device's model (``predictor``, when the search
    has one) and refuse it unbuilt when the prediction breaks ``max_latency_ms``; build it, fit
    its anchors to the data (when asked and the recall is short), count params and FLOPs, and
    time the untrained network on the target device. When the latency
    objective includes NMS, the network + NMS is timed here too: every epoch's report carries it
    (the rungs of successive halving rank by it), the trained network is timed again at the end."""
    dataset = open_dataset(config.data, config.roots, decode=False)  # decoded before the search
    network = build_network(config, dataset.num_classes)
    prediction = predict(predictor, network, config.latency, config.image_size)
    reject_if_too_slow(prediction, spec.objectives.constraints)
    fitted = False
    recall_before = recall_after = None
    if spec.space.hyperparameters.anchors:
        anchor_t = config.hyp.anchor_t
        fit = evolve_anchors(
            dataset.train, config.image_size, network.detect.anchors, anchor_t, seed=config.seed
        )
        if fit.changed:
            config = config.with_anchors(fit.anchors)
            network = build_network(config, dataset.num_classes)
            fitted = True
        recall_before, recall_after = fit.bpr_before, fit.bpr_after
    model = Detector(network)
    params = count_parameters(model)
    gflops, _ = count_flops(model, config.image_size)
    target = config.latency
    latency = target.measure(model, config.image_size)
    with_nms = None
    if spec.objectives.latency.include_nms:
        with_nms = target.measure(model, config.image_size, include_nms=True)
    constraints = spec.objectives.constraints
    # max_latency_ms bounds the latency being optimised (with NMS when the objective includes it), as
    # the hypervolume's reference does
    objective_ms = (with_nms or latency).estimate_ms
    violations = constraints.violations(objective_ms, params, gflops)
    violation = constraint_violation(constraints, objective_ms, params, gflops)
    predicted = prediction.predicted_ms if prediction else None
    return Candidate(
        config,
        latency,
        params,
        gflops,
        violations,
        anchors_fitted=fitted,
        latency_with_nms=with_nms,
        violation=violation,
        predicted_ms=predicted,
        anchor_recall_before=recall_before,
        anchor_recall_after=recall_after,
    )
