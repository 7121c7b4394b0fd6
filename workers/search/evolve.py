"""``evolve``: the reference genetic evolution (spec §7) as a Ray Tune Searcher, for several
objectives. The first trial is the space's default point (base hyperparameters, first choices),
then ``initial_random`` uniform draws, then children: parents among the best ``top_parents`` of
the finished trials by fidelity (epochs trained: a trial a scheduler stopped early ranks below one
that went further), Pareto rank, the hypervolume each adds and crowding, one drawn by weight (or
their weighted mean), mutated as ``search_spaces.mutation`` describes. Failed and infeasible trials
are never parents.

With ``inherit_weights`` (and a ``weights_dir`` shared with the trials), every trial is told where
to save its trained weights, and a child of a parent that saved them starts from them and trains
``child_epochs`` (config key ``lineage``; ``workers.training.inherit``). A child's lineage goes
on: its own weights are what its children inherit."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from search_spaces import EvolutionSettings, Parameter, Point
from search_spaces.mutation import (
    FULL_FIDELITY,
    Evaluated,
    combine,
    draw_parent,
    mutate,
    sample_point,
    select_parents,
)
from search_spaces.pareto import minimised_reference
from workers.results import TrialReport, TrialStatus
from workers.search.lineage import CONFIG_KEY as LINEAGE_KEY
from workers.search.lineage import Lineage
from workers.search.objectives import minimised_vector
from workers.search.points import flatten, nest

# a trial's last report as the searcher sees it: "running" when the scheduler stopped it early
PARENT_STATUSES = frozenset({TrialStatus.COMPLETED, TrialStatus.RUNNING})
DUPLICATE_ATTEMPTS = 20


class EvolveSearcher(Searcher):
    def __init__(
        self,
        parameters: list[Parameter],
        metrics: list[str],
        modes: list[str],
        settings: EvolutionSettings | None = None,
        seed: int = 0,
        points_to_evaluate: list[Point] | None = None,
        reference: Sequence[float | None] | None = None,
        weights_dir: Path | None = None,
        child_epochs: int | None = None,
    ) -> None:
        """``reference``: the hypervolume reference per metric, in its own units (None entries
        derived from the history: see ``search_spaces.pareto.minimised_reference``).
        ``weights_dir``, ``child_epochs``: where trials save the weights children inherit, and
        how many epochs an inheriting child trains (both needed for ``settings.inherit_weights``)."""
        super().__init__(metric=metrics, mode=modes)  # type: ignore[arg-type]
        self.parameters = parameters
        self.settings = settings or EvolutionSettings()
        self.rng = np.random.default_rng(seed)
        self.queue: list[Point] = list(points_to_evaluate or [])
        self.history: list[Evaluated] = []
        self.live: dict[str, Point] = {}
        self.suggested = 0
        self.reference = list(reference) if reference is not None else [None] * len(metrics)
        self.inherit = bool(self.settings.inherit_weights and weights_dir is not None and child_epochs)
        self.weights_dir = weights_dir
        self.child_epochs = child_epochs
        self.weights: dict[str, str] = {}  # trial id → its saved weights (completed trials)

    def _seen(self, point: Point) -> bool:
        return any(item.point == point for item in self.history) or point in self.live.values()

    def _propose(self) -> tuple[Point, Evaluated | None]:
        """A point and the parent it was bred from (None for the first and the random points)."""
        if self.suggested == 0:
            return {p.name: p.initial() for p in self.parameters}, None
        if self.suggested <= self.settings.initial_random:
            return sample_point(self.parameters, self.rng), None
        settings = self.settings
        parent = None
        if self.history:
            maximised = [mode == "max" for mode in self.mode]  # type: ignore[union-attr]
            vectors = [item.objectives for item in self.history]
            reference = minimised_reference(self.reference, maximised, vectors)
            parents, weights = select_parents(self.history, settings.top_parents, reference)
            if settings.parent_selection == "single":
                parent = parents[draw_parent(weights, self.rng)]
                start = dict(parent.point)
            else:  # a child of the weighted mean inherits from the best parent
                parent = parents[0]
                start = combine(parents, weights, self.parameters, self.rng, settings.parent_selection)
        else:
            start = {p.name: p.initial() for p in self.parameters}
        child = mutate(
            start,
            self.parameters,
            self.rng,
            settings.mutation_probability,
            settings.sigma,
            choice_probability=settings.choice_probability,
        )
        return child, parent

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        parent = None
        if self.queue:
            point = self.queue.pop(0)
        else:
            point, parent = self._propose()
            for _ in range(DUPLICATE_ATTEMPTS):
                if not self._seen(point):
                    break
                point, parent = self._propose()
        self.suggested += 1
        self.live[trial_id] = point
        config: dict[str, Any] = nest(point)
        if self.inherit:
            config[LINEAGE_KEY] = self._lineage(trial_id, parent).to_config()
        return config

    def _weights_path(self, trial_id: str) -> str:
        assert self.weights_dir is not None
        return str(self.weights_dir / f"{trial_id}.pt")

    def _lineage(self, trial_id: str, parent: Evaluated | None) -> Lineage:
        """Where the trial saves its weights and, for a child of a parent that saved them, what
        it inherits and how long it trains."""
        inherited = self.weights.get(parent.trial_id) if parent and parent.trial_id else None
        return Lineage(
            save_to=self._weights_path(trial_id),
            parent=parent.trial_id if inherited else None,
            inherit_from=inherited,
            epochs=self.child_epochs if inherited else None,
        )

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        point = self.live.pop(trial_id, None)
        report = TrialReport.from_metrics(result) if result else None
        if point is None or error or report is None or report.status not in PARENT_STATUSES:
            return
        objectives = minimised_vector(result, self.metric, self.mode)  # type: ignore[arg-type]
        if objectives is None:
            return
        # a completed trial ran its whole schedule (an inheriting child's is shorter): full fidelity
        completed = report.status is TrialStatus.COMPLETED or report.epoch < 0
        fidelity = FULL_FIDELITY if completed else report.epochs
        self.history.append(Evaluated(point, objectives, fidelity, trial_id))
        if self.inherit and completed and Path(self._weights_path(trial_id)).is_file():
            self.weights[trial_id] = self._weights_path(trial_id)

    def tell_measured(self, trial_id: str, point: Point, values: Sequence[float]) -> bool:
        """A result measured without this search (imported, warm start): a finished point of full
        fidelity among the parents children are bred from (its weights are not inherited), never
        proposed again. False when it was told before (a restored searcher keeps its history)."""
        if any(item.trial_id == trial_id for item in self.history):
            return False
        result = dict(zip(self.metric, values, strict=True))  # type: ignore[arg-type]
        objectives = minimised_vector(result, self.metric, self.mode)  # type: ignore[arg-type]
        if objectives is None:
            return False
        self.history.append(Evaluated(dict(point), objectives, FULL_FIDELITY, trial_id))
        return True

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Warm start: a finished point (nested or flat) with its objective values, counted as
        fully trained."""
        point = flatten(parameters) if "arch" in parameters or "hyp" in parameters else dict(parameters)
        values = value if isinstance(value, list | tuple) else [value]
        result = dict(zip(self.metric, values, strict=True))  # type: ignore[arg-type]
        objectives = None if error else minimised_vector(result, self.metric, self.mode)  # type: ignore[arg-type]
        if objectives is not None:
            self.history.append(Evaluated(point, objectives))

    def get_state(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "queue": self.queue,
            "history": [(item.point, item.objectives, item.fidelity, item.trial_id) for item in self.history],
            "live": self.live,
            "weights": self.weights,
            "suggested": self.suggested,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.queue = list(state["queue"])
        self.history = [  # states saved before fidelities were kept hold (point, objectives)
            Evaluated(entry[0], tuple(entry[1]), *entry[2:]) for entry in state["history"]
        ]
        self.live = dict(state["live"])
        self.weights = dict(state.get("weights", {}))
        self.suggested = state["suggested"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(pickle.loads(Path(checkpoint_path).read_bytes()))
