"""The learning-rate schedule: one cosine over the run, or one per successive-halving rung."""

from __future__ import annotations

import itertools

import pytest

from workers.training.hyp import Hyperparameters
from workers.training.optim import Warmup, cosine_factor, cycle_bounds, schedule_factor

LRF = 0.2


def test_without_restarts_the_schedule_is_one_cosine_over_the_run():
    factors = [schedule_factor(epoch, 18, LRF) for epoch in range(18)]
    assert factors == [cosine_factor(epoch, 18, LRF) for epoch in range(18)]
    assert factors[0] == 1.0 and all(a > b for a, b in itertools.pairwise(factors))


def test_a_restart_at_the_rung_decays_each_cycle_to_its_own_end():
    factors = [schedule_factor(epoch, 18, LRF, restarts=(6,)) for epoch in range(18)]
    # the last epoch before the rung trains at the learning rate a 6-epoch run ends on
    assert factors[5] == pytest.approx(cosine_factor(5, 6, LRF))
    assert factors[5] < schedule_factor(5, 18, LRF)
    assert factors[6] == 1.0  # the trial that goes on starts a new cycle
    assert factors[17] == pytest.approx(cosine_factor(11, 12, LRF))
    assert all(LRF <= factor <= 1.0 for factor in factors)


def test_restarts_outside_the_run_are_ignored():
    assert cycle_bounds(4, 18, (0, 6, 18, 54)) == (0, 6)
    assert cycle_bounds(6, 18, (6, 2)) == (6, 18)
    assert cycle_bounds(1, 18, (2, 6)) == (0, 2)
    assert schedule_factor(10, 18, LRF, restarts=(18, 54)) == cosine_factor(10, 18, LRF)


def test_warmup_is_capped_by_the_cycle_it_is_planned_for():
    hyp = Hyperparameters(warmup_epochs=3.0)
    # max(3 epochs, 1000 iterations) as the reference, at most 30 % of what it is planned for
    assert Warmup.for_run(hyp, 20, 18, 8, 8).iterations == 108  # 30 % of an 18-epoch run
    assert Warmup.for_run(hyp, 20, 6, 8, 8).iterations == 36  # 30 % of a 6-epoch first cycle
    assert Warmup.for_run(hyp, 500, 18, 8, 8).iterations == 1500  # 3 epochs of 500 batches
