"""Pareto sorting and hypervolume against brute force on random points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from search_spaces.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    hypervolume_contributions,
    hypervolume_history,
    non_dominated_sort,
    pareto_front,
    rank_order,
)


def _brute_front(points):
    return sorted(i for i, p in enumerate(points) if not any(dominates(q, p) for q in points))


def _grid_volume(points, reference, cells=400):
    """Monte-Carlo-free brute force: count cells of a fine grid dominated by some point."""
    lows = np.min(np.asarray(points), axis=0)
    axes = [
        np.linspace(lo, ref, cells, endpoint=False) + (ref - lo) / cells / 2
        for lo, ref in zip(lows, reference, strict=True)
    ]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(reference))
    dominated = np.zeros(len(grid), dtype=bool)
    for p in points:
        dominated |= np.all(grid >= np.asarray(p), axis=1)
    return dominated.mean() * np.prod([ref - lo for lo, ref in zip(lows, reference, strict=True)])


@pytest.mark.parametrize("seed", range(5))
def test_front_and_sorting_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    points = [tuple(p) for p in rng.random((40, 2)).round(2)]
    assert sorted(pareto_front(points)) == _brute_front(points)
    fronts = non_dominated_sort(points)
    assert sorted(itertools.chain(*fronts)) == list(range(len(points)))
    for rank, front in enumerate(fronts):
        for later in fronts[rank + 1 :]:
            for j in later:  # every point of a later front is dominated by one of this front
                assert any(dominates(points[i], points[j]) for i in front)


@pytest.mark.parametrize("seed", range(5))
def test_2d_hypervolume_matches_inclusion_exclusion(seed):
    rng = np.random.default_rng(seed)
    points = [tuple(p) for p in rng.random((8, 2))]
    reference = (1.2, 1.1)
    exact = 0.0  # inclusion–exclusion over all subsets: the union of the dominated boxes
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(points, size):
            corner = np.max(np.asarray(subset), axis=0)
            exact += (-1) ** (size + 1) * np.prod(np.clip(np.asarray(reference) - corner, 0, None))
    assert hypervolume(points, reference) == pytest.approx(exact, rel=1e-9)


def test_3d_hypervolume_matches_a_fine_grid():
    rng = np.random.default_rng(7)
    points = [tuple(p) for p in rng.random((6, 3))]
    reference = (1.0, 1.0, 1.0)
    assert hypervolume(points, reference) == pytest.approx(_grid_volume(points, reference, 120), rel=0.03)


def test_known_cases():
    assert hypervolume([(0.0, 0.0)], (1.0, 2.0)) == 2.0
    assert hypervolume([(2.0, 0.0)], (1.0, 1.0)) == 0.0  # outside the reference
    assert hypervolume([(0.0, 0.5), (0.5, 0.0)], (1.0, 1.0)) == pytest.approx(0.75)
    assert hypervolume_history([(0.5, 0.5), (0.9, 0.9), (0.0, 0.5)], (1.0, 1.0)) == pytest.approx(
        [0.25, 0.25, 0.5]
    )
    distances = crowding_distance([(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)], [0, 1, 2])
    assert distances[0] == distances[2] == float("inf") and distances[1] == pytest.approx(2.0)


def test_contributions_are_the_volume_each_point_alone_dominates():
    points = [(1.0, 3.0), (2.5, 2.5), (3.0, 1.0), (5.0, 0.0)]  # the last is beyond the reference
    added = hypervolume_contributions(points, [0, 1, 2, 3], (4.0, 4.0))
    # each point's own box: 1.5 × 1 and 1 × 1.5 at the ends, 0.5 × 0.5 between its neighbours
    assert added == pytest.approx({0: 1.5, 1: 0.25, 2: 1.5, 3: 0.0})


def test_rank_order_with_a_reference_prefers_volume_over_being_an_extreme():
    # one front: a fast point with next to no accuracy, and two that add much more volume
    points = [(-0.01, 1.0), (-0.30, 10.0), (-0.20, 5.0)]
    assert rank_order(points) == [0, 1, 2]  # crowding: the two extremes first, ties by index
    assert rank_order(points, (0.0, 40.0)) == [1, 2, 0]  # adds 3.0, 0.95, 0.04
    # fronts still come first: a dominated point never passes a front member
    assert rank_order([*points, (-0.005, 30.0)], (0.0, 40.0))[-1] == 3
