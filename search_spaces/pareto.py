"""Pareto tools on objective vectors, all objectives minimised (pass −AP for AP).

Non-dominated sorting (Deb et al. 2002), crowding distance, the first front, and the exact
hypervolume: a sweep in 2-D, slicing along the first objective in more dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence

Vector = Sequence[float]


def dominates(first: Vector, second: Vector) -> bool:
    """``first`` is no worse in every objective and better in at least one."""
    return all(a <= b for a, b in zip(first, second, strict=True)) and any(
        a < b for a, b in zip(first, second, strict=True)
    )


def non_dominated_sort(points: Sequence[Vector]) -> list[list[int]]:
    """Fronts of indices: front 0 is non-dominated, front 1 is non-dominated once 0 is removed, …"""
    dominated_by_count = [0] * len(points)
    dominating: list[list[int]] = [[] for _ in points]
    for i, first in enumerate(points):
        for j in range(i + 1, len(points)):
            if dominates(first, points[j]):
                dominating[i].append(j)
                dominated_by_count[j] += 1
            elif dominates(points[j], first):
                dominating[j].append(i)
                dominated_by_count[i] += 1
    fronts: list[list[int]] = []
    current = [i for i, count in enumerate(dominated_by_count) if count == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominating[i]:
                dominated_by_count[j] -= 1
                if dominated_by_count[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def pareto_front(points: Sequence[Vector]) -> list[int]:
    return non_dominated_sort(points)[0] if points else []


def crowding_distance(points: Sequence[Vector], front: Sequence[int]) -> dict[int, float]:
    """Per index of ``front``: the sum over objectives of the normalised gap between its
    neighbours; the extremes get infinity."""
    distance = dict.fromkeys(front, 0.0)
    if len(front) <= 2:
        return dict.fromkeys(front, math.inf)
    for objective in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda index: points[index][objective])
        low, high = points[ordered[0]][objective], points[ordered[-1]][objective]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        if high == low:
            continue
        for before, index, after in zip(ordered, ordered[1:], ordered[2:], strict=False):
            distance[index] += (points[after][objective] - points[before][objective]) / (high - low)
    return distance


def hypervolume_contributions(
    points: Sequence[Vector], front: Sequence[int], reference: Vector
) -> dict[int, float]:
    """Per index of ``front``: the volume only it dominates (the front's hypervolume less the
    hypervolume without it)."""
    whole = hypervolume([points[index] for index in front], reference)
    return {
        index: whole - hypervolume([points[other] for other in front if other != index], reference)
        for index in front
    }


REFERENCE_MARGIN = 1.1


def minimised_reference(
    reference: Sequence[float | None], maximised: Sequence[bool], vectors: Sequence[Vector]
) -> tuple[float, ...]:
    """A hypervolume reference for ``vectors`` (minimised: a maximised metric negated) from one
    given in the metrics' own units; a None entry is derived: 0 for a maximised metric (AP 0),
    1.1 × the worst value of a minimised one (so that every point adds volume)."""
    values = []
    for index, (value, negated) in enumerate(zip(reference, maximised, strict=True)):
        if value is not None:
            values.append(-float(value) if negated else float(value))
        elif negated:
            values.append(0.0)
        else:
            values.append(REFERENCE_MARGIN * max(vector[index] for vector in vectors))
    return tuple(values)


def rank_order(points: Sequence[Vector], reference: Vector | None = None) -> list[int]:
    """All indices, best first: by front, then — with a ``reference`` — by the hypervolume each
    adds to its front (larger first), then by crowding distance (larger first), then by index."""
    order: list[int] = []
    for front in non_dominated_sort(points):
        crowding = crowding_distance(points, front)
        added = hypervolume_contributions(points, front, reference) if reference else {}
        order += sorted(front, key=lambda index: (-added.get(index, 0.0), -crowding[index], index))
    return order


def hypervolume(points: Sequence[Vector], reference: Vector) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (points not better than the
    reference in every objective add nothing)."""
    inside = [tuple(p) for p in points if all(a < r for a, r in zip(p, reference, strict=True))]
    if not inside:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in inside)
    if len(reference) == 2:
        return _sweep_2d(inside, reference)
    return _slice(inside, tuple(reference))


def _sweep_2d(points: list[tuple[float, ...]], reference: Vector) -> float:
    volume, best_second = 0.0, reference[1]
    for first, second in sorted(points):
        if second < best_second:
            volume += (reference[0] - first) * (best_second - second)
            best_second = second
    return volume


def _slice(points: list[tuple[float, ...]], reference: tuple[float, ...]) -> float:
    """Slice along the first objective: between consecutive first-coordinates, the (d−1)-volume
    of the points seen so far."""
    ordered = sorted(points)
    volume = 0.0
    for index, point in enumerate(ordered):
        upper = ordered[index + 1][0] if index + 1 < len(ordered) else reference[0]
        if upper > point[0]:
            volume += (upper - point[0]) * hypervolume([p[1:] for p in ordered[: index + 1]], reference[1:])
    return volume


def hypervolume_history(points: Sequence[Vector], reference: Vector) -> list[float]:
    """The hypervolume after each point, in order (e.g. after each completed trial)."""
    return [hypervolume(points[: count + 1], reference) for count in range(len(points))]
