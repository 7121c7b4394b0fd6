"""Searchers by name, built lazily: ``evolve`` (ours), and Optuna's NSGA-II, multi-objective TPE
and random sampling through Ray Tune's OptunaSearch. All optimise (accuracy ↑, latency ↓)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.search.optuna import OptunaSearch

from search_spaces import JobSpec, Parameter, Point
from workers.results import FAILED_STATUSES, TrialReport, TrialStatus
from workers.search.evolve import EvolveSearcher
from workers.search.outcome import SearchTrial
from workers.search.screening import Screen, ScreeningSearcher
from workers.search.tune_adapter import first_generation, optuna_study, optuna_trial, take_optuna_trial

MIN_POPULATION, MAX_POPULATION = 4, 50
REDRAWS = 25  # asks for a new point before a repeat is trained after all
RUNNING = "running"
CONSTRAINT = "constraint_violation"  # the Optuna constraint an infeasible trial breaks
UNMEASURED_VIOLATION = 1.0  # an infeasible report that says not by how much
KNOWN_ATTRIBUTE = "scaler:known_trial"  # an Optuna trial's user attribute: the known result it is

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What Optuna was told of a point: ``state`` running, complete, infeasible, pruned or failed."""

    state: str
    values: list[float] | None = None
    violation: float | None = None  # an infeasible point's ``constraint_violation``


class MultiObjectiveOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna a trial failed when it failed or its result holds no
    objective values, instead of passing Nones (or a fake AP 0) to ``Study.tell``; that a trial a
    successive-halving scheduler stopped at a rung (its last report still ``running``) was pruned:
    its AP was measured before the network could detect, so NSGA-II and multi-objective TPE, which
    learn from complete trials only, must not take it for a finished one (as ``evolve`` ranks parents
    by fidelity first); and that an infeasible trial (a constraint broken before training) broke a
    constraint (``Trial.set_constraint``, by its ``constraint_violation``): complete, its AP 0 and
    latency never join the study's front (``best_trials`` takes feasible trials only), NSGA-II ranks
    it behind every feasible trial and TPE counts it among the bad ones, so both sample away from
    it. A point already trained or training is never handed to Ray again (see ``suggest``), as
    ``evolve`` never proposes one."""

    def __init__(self, space: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(space=space, **kwargs)
        self.distributions = dict(space)
        self.outcomes: dict[str, Outcome] = {}  # point key → what Optuna was told
        self.point_keys: dict[str, str] = {}  # trial id → point key
        self.repeats_told = 0
        self.known_told: set[str] = set()  # the known results' trial ids told (``tell_measured``)

    def tell_measured(self, trial_id: str, point: Point, values: Sequence[float]) -> bool:
        """A result measured without this search (imported, warm start) joins the study as a
        complete trial with its objective values (in NSGA-II's first generation, whose population
        its parents come from), and a suggest that draws its point again is told its outcome
        instead of training it. False when it was told before (a restored searcher keeps them)."""
        import optuna

        if trial_id in self.known_told:
            return False
        study = optuna_study(self)
        trial = optuna.trial.create_trial(
            values=list(values),
            params=dict(point),
            distributions=self.distributions,
            user_attrs={KNOWN_ATTRIBUTE: trial_id},
            system_attrs=first_generation(study.sampler),
        )
        study.add_trial(trial)
        self.outcomes[json.dumps(point, sort_keys=True)] = Outcome("complete", list(values))
        self.known_told.add(trial_id)
        return True

    def suggest(self, trial_id: str) -> dict | None:
        """Optuna's next point, never one already trained or training: NSGA-II's crossover and
        mutation hand back a parent unchanged now and then (measured: 2 of 8 trials of a
        144-epoch benchmark run). A repeat gets the outcome its twin got (values, pruned or
        failed, infeasible; pruned while the twin still runs) told to Optuna without training, and
        the sampler is asked again, at most ``REDRAWS`` times."""
        for _ in range(REDRAWS):
            config = super().suggest(trial_id)
            drawn = optuna_trial(self, trial_id)
            if drawn is None:  # Ray's suggest asks its study for one: see tune_adapter
                raise RuntimeError(f"OptunaSearch drew no Optuna trial for {trial_id}")
            key = json.dumps(drawn.params, sort_keys=True)
            if key not in self.outcomes:
                break
            self._tell_repeat(trial_id, self.outcomes[key])
        self.outcomes.setdefault(key, Outcome(RUNNING))
        self.point_keys[trial_id] = key
        return config

    def _tell_repeat(self, trial_id: str, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        trial = take_optuna_trial(self, trial_id)
        if outcome.violation is not None:
            trial.set_constraint(CONSTRAINT, outcome.violation)
        trial_state = {
            "complete": TrialState.COMPLETE,
            "infeasible": TrialState.COMPLETE,
            "failed": TrialState.FAIL,
        }.get(outcome.state, TrialState.PRUNED)
        values = outcome.values if trial_state == TrialState.COMPLETE else None
        optuna_study(self).tell(trial, values, state=trial_state)
        self.repeats_told += 1
        logger.info("repeated point told to Optuna as %s without training", outcome.state)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        report = TrialReport.from_metrics(result) if result is not None else None
        status = report.status if report is not None else None
        violation = None
        if result is not None and (
            status in FAILED_STATUSES or any(result.get(metric) is None for metric in metrics)
        ):
            result, error = None, True
        elif report is not None and status is TrialStatus.INFEASIBLE:
            violation = report.constraint_violation or 0.0
            violation = violation if violation > 0 else UNMEASURED_VIOLATION
            if (drawn := optuna_trial(self, trial_id)) is not None:
                drawn.set_constraint(CONSTRAINT, violation)
        elif result is not None and status is TrialStatus.RUNNING and not error:
            result = None  # no values and no error: Optuna records the trial as pruned
        key = self.point_keys.pop(trial_id, None)
        if key is not None:
            values = [float(result[metric]) for metric in metrics] if result else None
            if values is None:
                self.outcomes[key] = Outcome("failed" if error else "pruned")
            else:
                self.outcomes[key] = Outcome("infeasible" if violation else "complete", values, violation)
        super().on_trial_complete(trial_id, result, error)


@dataclasses.dataclass(frozen=True)
class KnownResults:
    """Results the search did not measure (``TrialOrigin`` imported or warm_start): each trial id, its
    point (the space's parameters) and objective values (accuracy, latency). ``tell`` hands them to
    a searcher as completed trials, never trained: Optuna's study holds them (NSGA-II's parents and
    TPE's model draw on them, random sampling ignores them), ``evolve`` ranks them among its parents.
    Picklable: Tune keeps it with the search, and a restored searcher is told the ones it missed."""

    entries: tuple[tuple[str, Point, tuple[float, float]], ...] = ()

    @classmethod
    def of(cls, spec: JobSpec, trials: Sequence[SearchTrial]) -> KnownResults:
        """The measured ones of ``trials`` whose point names every parameter of the job's space."""
        names = [parameter.name for parameter in spec.space.parameters()]
        entries = []
        for trial in trials:
            vector = trial.objective_vector(spec.objectives)
            if vector is not None and all(name in trial.point for name in names):
                point = {name: trial.point[name] for name in names}
                entries.append((trial.trial_id, point, (-vector[0], vector[1])))
        return cls(tuple(entries))

    def tell(self, searcher: Searcher) -> int:
        """Tell the searcher under ``searcher``'s wrappers each result it was not told yet; how
        many were new to it."""
        base: Any = searcher
        while hasattr(base, "searcher"):  # ConcurrencyLimiter, ScreeningSearcher
            base = base.searcher
        if not hasattr(base, "tell_measured"):
            return 0
        told = sum(bool(base.tell_measured(*entry)) for entry in self.entries)
        if told:
            logger.info("%d results measured without this search told to its searcher", told)
        return told


def objective_metrics(spec: JobSpec) -> tuple[list[str], list[str]]:
    return [spec.objectives.accuracy, spec.objectives.latency_metric], ["max", "min"]


def hypervolume_reference(spec: JobSpec) -> tuple[float, float | None]:
    """Per objective metric, the hypervolume reference the job is judged by: AP 0 and the
    reference latency (else the latency constraint; None: derived from the trials)."""
    return (0.0, spec.objectives.configured_reference_latency_ms)


def optuna_space(parameters: list[Parameter]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind == "choice":
            space[parameter.name] = CategoricalDistribution(list(parameter.choices))
        elif parameter.kind == "int":
            space[parameter.name] = IntDistribution(
                int(parameter.low), int(parameter.high), log=parameter.log
            )  # type: ignore[arg-type]
        else:
            space[parameter.name] = FloatDistribution(parameter.low, parameter.high, log=parameter.log)  # type: ignore[arg-type]
    return space


def _optuna(sampler_factory: Callable[[JobSpec], Any]) -> Callable[[JobSpec, list[Point]], Searcher]:
    def build(spec: JobSpec, initial: list[Point]) -> Searcher:
        metrics, modes = objective_metrics(spec)
        return MultiObjectiveOptunaSearch(
            space=optuna_space(spec.space.parameters()),
            metric=metrics,
            mode=modes,
            sampler=sampler_factory(spec),
            points_to_evaluate=[dict(point) for point in initial] or None,  # flat names
        )

    return build


def population_size(spec: JobSpec) -> int:
    """NSGA-II's generation size: a quarter of the trials the budget will run (within 4–50), so
    that a search gets about four generations; sized by ``max_trials`` alone, a budget bounded by
    trial-epochs would never get past its random first generation."""
    return max(MIN_POPULATION, min(MAX_POPULATION, spec.expected_trials() // 4))


def _nsga2(spec: JobSpec) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(population_size=population_size(spec), seed=spec.seed)


def _tpe(spec: JobSpec) -> Any:
    import optuna

    startup = max(MIN_POPULATION, min(10, spec.expected_trials() // 4))
    return optuna.samplers.TPESampler(n_startup_trials=startup, seed=spec.seed, multivariate=True)


def _random(spec: JobSpec) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=spec.seed)


def _evolve(spec: JobSpec, initial: list[Point], weights_dir: Path | None = None) -> Searcher:
    metrics, modes = objective_metrics(spec)
    return EvolveSearcher(
        spec.space.parameters(),
        metrics,
        modes,
        spec.evolution,
        spec.seed,
        initial,
        reference=hypervolume_reference(spec),
        weights_dir=weights_dir,
        child_epochs=spec.evolution.child_epochs(spec.budget.epochs_per_trial),
    )


SEARCHER_FACTORIES: dict[str, Callable[..., Searcher]] = {
    "evolve": _evolve,
    "nsga2": _optuna(_nsga2),
    "tpe": _optuna(_tpe),
    "random": _optuna(_random),
}


def make_searcher(
    spec: JobSpec,
    initial: list[Point] | None = None,
    weights_dir: Path | None = None,
    screen: Screen | None = None,
    search_dir: Path | None = None,
) -> Searcher:
    """The job's searcher, limited to the budget's concurrent trials. ``initial``: points to
    evaluate first, after the job's own ``space.initial_points`` (e.g. the best of earlier jobs).
    ``weights_dir``: where trials save the weights that ``evolve``'s children inherit
    (``evolution.inherit_weights``; shared by all nodes). ``screen``: the latency model's verdict
    on a point before it becomes a trial (``screening``; what it screened out is written in
    ``search_dir``)."""
    extra = {"weights_dir": weights_dir} if spec.searcher == "evolve" else {}
    # the job's own candidates (space.initial_points) first, then those handed in (a warm start)
    first = [*spec.space.initial_candidates(), *(initial or [])]
    searcher = SEARCHER_FACTORIES[spec.searcher](spec, first, **extra)
    if screen is not None:
        searcher = ScreeningSearcher(searcher, screen, search_dir or Path("."))
    return ConcurrencyLimiter(searcher, max_concurrent=spec.budget.max_concurrent_trials)
