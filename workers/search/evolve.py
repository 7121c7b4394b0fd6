"""``evolve``: the reference genetic evolution (spec §7) as a Ray Tune Searcher, for several
objectives. The first trial is the space's default point (base hyperparameters, first choices),
then ``initial_random`` uniform draws, then children: parents among the best ``top_parents`` of
the finished trials by fidelity (epochs trained: a trial a scheduler stopped early ranks below one
that went further), Pareto rank, the hypervolume each adds and crowding, one drawn by weight (or
their weighted mean), mutated as ``search_spaces.mutation`` describes. Failed and infeasible trials
are never parents."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from search_spaces import EvolutionSettings, Parameter, Point
from search_spaces.mutation import FULL_FIDELITY, Evaluated, combine, mutate, sample_point, select_parents
from search_spaces.pareto import minimised_reference
from workers.search.objectives import minimised_vector
from workers.search.points import flatten, nest

PARENT_STATUSES = ("completed", "running")  # "running": stopped early by the scheduler
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
    ) -> None:
        """``reference``: the hypervolume reference per metric, in its own units (None entries
        derived from the history: see ``search_spaces.pareto.minimised_reference``)."""
        super().__init__(metric=metrics, mode=modes)  # type: ignore[arg-type]
        self.parameters = parameters
        self.settings = settings or EvolutionSettings()
        self.rng = np.random.default_rng(seed)
        self.queue: list[Point] = list(points_to_evaluate or [])
        self.history: list[Evaluated] = []
        self.live: dict[str, Point] = {}
        self.suggested = 0
        self.reference = list(reference) if reference is not None else [None] * len(metrics)

    def _seen(self, point: Point) -> bool:
        return any(item.point == point for item in self.history) or point in self.live.values()

    def _propose(self) -> Point:
        if self.suggested == 0:
            return {p.name: p.initial() for p in self.parameters}
        if self.suggested <= self.settings.initial_random:
            return sample_point(self.parameters, self.rng)
        settings = self.settings
        if self.history:
            maximised = [mode == "max" for mode in self._mode]  # type: ignore[union-attr]
            vectors = [item.objectives for item in self.history]
            reference = minimised_reference(self.reference, maximised, vectors)
            parents, weights = select_parents(self.history, settings.top_parents, reference)
            start = combine(parents, weights, self.parameters, self.rng, settings.parent_selection)
        else:
            start = {p.name: p.initial() for p in self.parameters}
        return mutate(
            start,
            self.parameters,
            self.rng,
            settings.mutation_probability,
            settings.sigma,
            choice_probability=settings.choice_probability,
        )

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.queue:
            point = self.queue.pop(0)
        else:
            point = self._propose()
            for _ in range(DUPLICATE_ATTEMPTS):
                if not self._seen(point):
                    break
                point = self._propose()
        self.suggested += 1
        self.live[trial_id] = point
        return nest(point)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        point = self.live.pop(trial_id, None)
        if point is None or error or not result or result.get("status") not in (*PARENT_STATUSES,):
            return
        objectives = minimised_vector(result, self._metric, self._mode)  # type: ignore[arg-type]
        if objectives is not None:
            fidelity = int(result["epoch"]) + 1 if "epoch" in result else FULL_FIDELITY
            self.history.append(Evaluated(point, objectives, fidelity))

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
        result = dict(zip(self._metric, values, strict=True))  # type: ignore[arg-type]
        objectives = None if error else minimised_vector(result, self._metric, self._mode)  # type: ignore[arg-type]
        if objectives is not None:
            self.history.append(Evaluated(point, objectives))

    def get_state(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "queue": self.queue,
            "history": [(item.point, item.objectives, item.fidelity) for item in self.history],
            "live": self.live,
            "suggested": self.suggested,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.queue = list(state["queue"])
        self.history = [  # states saved before fidelities were kept hold (point, objectives)
            Evaluated(entry[0], tuple(entry[1]), *entry[2:]) for entry in state["history"]
        ]
        self.live = dict(state["live"])
        self.suggested = state["suggested"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(pickle.loads(Path(checkpoint_path).read_bytes()))
