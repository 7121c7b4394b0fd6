"""Screening sampled points with the device's latency model before any becomes a trial.

A searcher's point that the model predicts too slow for ``max_latency_ms`` (even the low end of
its interval over the limit: ``predictor.reject_if_too_slow``) never becomes a Ray trial: it is
told to the searcher as infeasible at once (AP 0, its predicted latency and its constraint
violation, which NSGA-II and TPE sample away from) and the searcher is asked again, so the budget's
trials go to the points that may keep the constraint. A suggest screens at most ``SCREENS`` points;
after that the last one is trained anyway (its trial refuses it unbuilt, as any trial does). Every
screened point is written, as it happens, to the search folder's ``screened.jsonl`` (its point,
prediction and interval): the job shows how many the model spared (``screened_count``).

Only a prediction screens; the front's points are always measured, never predicted."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from search_spaces import JobSpec, Point, scaling_values
from workers.failures import CandidateError
from workers.latency_model import Prediction
from workers.results import TrialReport, TrialStatus
from workers.search.outcome import SCREENED_FILE
from workers.search.points import flatten, trial_config
from workers.search.predictor import PredictedTooSlowError, predict, reject_if_too_slow
from workers.trial import LatencyTarget, build_network

SCREENS = 50  # points one suggest may screen out before the next is trained anyway
LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Screen:
    """The prediction a point gets before it may become a trial (picklable: Tune keeps it in its
    experiment's state, and a restored search screens on)."""

    spec: JobSpec
    model: dict[str, Any]  # the setting's LatencyModel, as a Tune config carries it
    target: LatencyTarget
    num_classes: int
    target_device: dict[str, Any] | None = None
    # per network (its scaling values), its prediction: points that differ only in their
    # hyperparameters are the same network, predicted once
    predictions: dict[str, Prediction] = dataclasses.field(default_factory=dict, compare=False)

    def __call__(self, point: Point) -> PredictedTooSlowError | None:
        """Why ``point`` is refused untrained, or None when it may be trained."""
        key = json.dumps(scaling_values(point), sort_keys=True, default=str)
        prediction = self.predictions.get(key)
        if prediction is None:
            try:
                config = trial_config(self.spec, point, target_device=self.target_device)
                network = build_network(config, self.num_classes)
            except (CandidateError, ValueError) as error:  # its trial records why it cannot be built
                LOG.info("not screened (its network cannot be built): %s", error)
                return None
            predicted = predict(self.model, network, self.target, config.image_size)
            assert predicted is not None  # a screen always holds a model (make_screen)
            prediction = self.predictions[key] = predicted
        try:
            reject_if_too_slow(prediction, self.spec.objectives.constraints)
        except PredictedTooSlowError as rejected:
            return rejected
        return None


class ScreeningSearcher(Searcher):
    """``searcher`` with its points screened by ``screen`` before Tune trains them."""

    def __init__(self, searcher: Searcher, screen: Screen, search_dir: str | Path) -> None:
        self.searcher = searcher
        self.screen = screen
        self.log_path = Path(search_dir) / SCREENED_FILE
        self.screened = 0
        self.seen: set[str] = set()  # the points screened out, as JSON
        self.aliases: dict[str, str] = {}  # Tune's trial id → the id its point was drawn under
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | None:
        """The inner searcher's next point that the screen lets through. Each point drawn is
        asked for under an id of its own (searchers refuse a second outcome for one id): the
        first under ``trial_id``, the next under ``trial_id~N``; Tune's later calls for
        ``trial_id`` reach the id of the point it trains (``aliases``)."""
        config = None
        for attempt in range(SCREENS):
            inner_id = trial_id if attempt == 0 else f"{trial_id}~{attempt}"
            config = self.searcher.suggest(inner_id)
            if not isinstance(config, dict):  # None (wait) or FINISHED
                return config
            point = flatten(config)
            rejected = self.screen(point) if attempt < SCREENS - 1 else None
            if rejected is None:
                if inner_id != trial_id:
                    self.aliases[trial_id] = inner_id
                return config
            self._tell(inner_id, point, rejected)
        return config

    def _tell(self, trial_id: str, point: Point, rejected: PredictedTooSlowError) -> None:
        """Tell the searcher ``point`` broke the constraint, as a trial refused unbuilt would,
        with AP 0 and its predicted latency as its objectives (seen by the searcher alone)."""
        report = TrialReport(
            status=TrialStatus.INFEASIBLE,
            final=True,
            ap=0.0,
            latency_ms=rejected.predicted_ms,
            error=str(rejected),
            constraint_violation=rejected.violation,
            latency_predicted_ms=rejected.predicted_ms,
        )
        metrics = report.to_metrics()
        metrics[self.screen.spec.objectives.accuracy] = 0.0
        metrics[self.screen.spec.objectives.latency_metric] = rejected.predicted_ms
        self.searcher.on_trial_complete(trial_id, result=metrics)
        key = json.dumps(point, sort_keys=True)
        if key in self.seen:  # drawn again (evolve may breed the same child): told, not counted
            return
        self.seen.add(key)
        self.screened += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(
                json.dumps(
                    {
                        "point": point,
                        "predicted_ms": rejected.predicted_ms,
                        "violation": rejected.violation,
                        "reason": str(rejected),
                    },
                    sort_keys=True,
                )
                + "\n"
            )

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self.aliases.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.searcher.on_trial_complete(self.aliases.pop(trial_id, trial_id), result=result, error=error)

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> None:
        self.searcher.add_evaluated_point(*args, **kwargs)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)

    def get_state(self) -> dict:
        """What Tune keeps of this wrapper in its experiment state (the inner searcher it saves
        on its own): a restored search keeps its aliases and its count."""
        return {"aliases": dict(self.aliases), "seen": sorted(self.seen), "screened": self.screened}

    def set_state(self, state: dict) -> None:
        self.aliases = dict(state["aliases"])
        self.seen = set(state["seen"])
        self.screened = int(state["screened"])


def make_screen(
    spec: JobSpec,
    model: dict[str, Any] | None,
    target: LatencyTarget,
    num_classes: Callable[[], int],
    target_device: dict[str, Any] | None = None,
) -> Screen | None:
    """The search's screen: when the device has a latency model and the job a ``max_latency_ms``
    (None otherwise, or when the dataset cannot be read: the trials then fail on it themselves)."""
    if not model or spec.objectives.constraints.max_latency_ms is None:
        return None
    try:
        classes = num_classes()
    except (CandidateError, OSError, ValueError) as error:
        LOG.warning("no screening by the latency model: %s", error)
        return None
    return Screen(spec, model, target, classes, target_device)
