"""Sampling and the reference genetic evolution on points (spec §7), generalised to several
objectives and to categorical axes.

Float axes mutate as the reference: v = (gain·[rand < mp]·randn·r·σ + 1) clipped to [0.3, 3]
with r one uniform draw per generation, then clipped to the axis limits and rounded to 5
decimals. The reference multiplies (x·v), so a key at 0 can never move; here x moves by
max(|x|, floor)·(v − 1) with floor = 5 % of the axis span — the same as x·v whenever |x| ≥ floor,
and able to leave 0. A categorical axis moves with probability gain·cp (capped at 1, cp = 0.2 by
default): ordered numeric choices step to a neighbour, others to another choice at random. A move
of a choice is a jump (another input size, another activation), not a few-percent nudge, so it
gets its own, lower rate than mp: at mp = 0.8 a two-choice axis flipped in 80 % of the children,
a child of a 96-px parent was a 64-px network four times in five, and evolution could not hold on
to an architecture (docs/benchmarks.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search_spaces.parameters import Parameter, Point, Value
from search_spaces.pareto import rank_order

ZERO_FLOOR_FRACTION = 0.05
MIN_FACTOR, MAX_FACTOR = 0.3, 3.0


def sample_point(parameters: Sequence[Parameter], rng: np.random.Generator) -> Point:
    """A uniform draw (log-uniform on log axes)."""
    point: Point = {}
    for parameter in parameters:
        if parameter.kind == "choice":
            point[parameter.name] = parameter.choices[int(rng.integers(len(parameter.choices)))]
            continue
        assert parameter.low is not None and parameter.high is not None
        if parameter.log:
            value = math.exp(rng.uniform(math.log(parameter.low), math.log(parameter.high)))
        else:
            value = rng.uniform(parameter.low, parameter.high)
        point[parameter.name] = parameter.clip(value)
    return point


def _mutate_float(parameter: Parameter, value: float, factor: float) -> Value:
    assert parameter.low is not None and parameter.high is not None
    floor = ZERO_FLOOR_FRACTION * (parameter.high - parameter.low)
    return parameter.clip(value + max(abs(value), floor) * (factor - 1.0))


def _mutate_choice(parameter: Parameter, value: Value, rng: np.random.Generator) -> Value:
    choices = list(parameter.choices)
    if len(choices) < 2:
        return value
    numeric = all(isinstance(choice, int | float) and not isinstance(choice, bool) for choice in choices)
    if numeric and value in choices:
        ordered = sorted(choices)  # type: ignore[type-var]
        index = ordered.index(value)
        neighbours = [ordered[i] for i in (index - 1, index + 1) if 0 <= i < len(ordered)]
        return neighbours[int(rng.integers(len(neighbours)))]
    others = [choice for choice in choices if choice != value]
    return others[int(rng.integers(len(others)))]


def mutate(
    parent: Point,
    parameters: Sequence[Parameter],
    rng: np.random.Generator,
    mutation_probability: float = 0.8,
    sigma: float = 0.2,
    attempts: int = 100,
    choice_probability: float = 0.2,
) -> Point:
    """A child of ``parent`` that differs from it in at least one axis (when any axis can move)."""
    movable = [p for p in parameters if p.gain > 0 and not p.fixed]
    child = {p.name: parent.get(p.name, p.initial()) for p in parameters}
    if not movable:
        return child
    for _ in range(attempts):
        scale = rng.random()  # one scalar per generation, as the reference
        candidate = dict(child)
        for parameter in movable:
            current = candidate[parameter.name]
            if parameter.kind == "choice":
                if rng.random() < min(parameter.gain * choice_probability, 1.0):
                    candidate[parameter.name] = _mutate_choice(parameter, current, rng)
                continue
            hit = rng.random() < mutation_probability
            factor = parameter.gain * hit * rng.standard_normal() * scale * sigma + 1.0
            factor = min(max(factor, MIN_FACTOR), MAX_FACTOR)
            candidate[parameter.name] = _mutate_float(parameter, float(current), factor)
        if candidate != child:
            return candidate
    return child


FULL_FIDELITY = 1 << 30  # a point whose training length is unknown counts as fully trained


@dataclass(frozen=True)
class Evaluated:
    """A finished point, its objective vector (all minimised, e.g. (−AP, latency ms)) and its
    fidelity: the epochs it trained before its objectives were measured (a trial stopped at a
    successive-halving rung has fewer than one that ran to the end)."""

    point: Point
    objectives: tuple[float, ...]
    fidelity: int = FULL_FIDELITY
    trial_id: str | None = None  # which trial it was (whose weights a child may inherit)


def parent_order(history: Sequence[Evaluated], reference: Sequence[float] | None = None) -> list[int]:
    """All indices of ``history``, best first: by fidelity (more epochs first), then within one
    fidelity by ``rank_order`` (Pareto rank, the hypervolume each adds, crowding).

    Objectives measured at different fidelities do not compare: the AP of a trial stopped at a
    3-epoch rung is noise next to an 18-epoch trial's, yet its latency is final, so on one Pareto
    order the stopped fast networks would sit on the front beside the trained ones and breed. A trial
    that got further has won the scheduler's tournaments at every rung below, so it ranks first."""
    order: list[int] = []
    for fidelity in sorted({item.fidelity for item in history}, reverse=True):
        tier = [index for index, item in enumerate(history) if item.fidelity == fidelity]
        ranked = rank_order([history[index].objectives for index in tier], reference)
        order += [tier[position] for position in ranked]
    return order


def select_parents(
    history: Sequence[Evaluated], top: int, reference: Sequence[float] | None = None
) -> tuple[list[Evaluated], list[float]]:
    """The best ``top`` by ``parent_order`` (fidelity, then Pareto rank, then — given a hypervolume
    ``reference`` in the minimised space — the volume each adds to its front, then crowding), with
    selection weights: for one objective the reference's fitness − min(fitness) (+1e-6); for
    several, linear ranking (best = n, …, last = 1)."""
    order = parent_order(history, reference)[:top]
    parents = [history[index] for index in order]
    if parents and len(parents[0].objectives) == 1:
        fitness = [-item.objectives[0] for item in parents]
        weights = [value - min(fitness) + 1e-6 for value in fitness]
    else:
        weights = [float(len(parents) - rank) for rank in range(len(parents))]
    return parents, weights


def draw_parent(weights: Sequence[float], rng: np.random.Generator) -> int:
    """The index of one parent drawn by weight."""
    probabilities = np.asarray(weights, dtype=float) / float(sum(weights))
    return int(rng.choice(len(weights), p=probabilities))


def combine(
    parents: Sequence[Evaluated],
    weights: Sequence[float],
    parameters: Sequence[Parameter],
    rng: np.random.Generator,
    selection: str = "single",
) -> Point:
    """'single': one parent drawn by weight (the reference default); 'weighted': the weighted mean
    of the parents on numeric axes (snapped to the nearest choice) and a weighted draw on others."""
    if selection == "single":
        return dict(parents[draw_parent(weights, rng)].point)
    probabilities = np.asarray(weights, dtype=float) / float(sum(weights))
    point: Point = {}
    for parameter in parameters:
        values = [parent.point.get(parameter.name, parameter.initial()) for parent in parents]
        if all(isinstance(v, int | float) for v in values):
            mean = float(np.dot(probabilities, np.asarray(values, dtype=float)))
            if parameter.kind == "choice":
                point[parameter.name] = min(parameter.choices, key=lambda c: abs(float(c) - mean))
            else:
                point[parameter.name] = parameter.clip(mean)
        else:
            point[parameter.name] = values[int(rng.choice(len(values), p=probabilities))]
    return point
