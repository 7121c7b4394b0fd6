"""The weights' EMA: the reference's ramped decay, with a window sized to short runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from workers.training.ema import ModelEMA


def _lag_after(updates: int, planned_updates: int | None) -> float:
    """A weight that grows by 1 per update: how far the EMA trails it after ``updates``."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    ema = ModelEMA(model, planned_updates=planned_updates)
    for _ in range(updates):
        with torch.no_grad():
            model.weight.add_(1.0)
        ema.update(model)
    return float((model.weight - ema.ema.weight).detach())


def test_without_a_plan_the_decay_is_the_reference():
    ema = ModelEMA(nn.Linear(1, 1))
    ema.updates = 2000
    assert ema.decay() == pytest.approx(0.9999 * (1 - math.exp(-1)))


def test_a_long_run_keeps_the_reference_decay():
    long, reference = ModelEMA(nn.Linear(1, 1), planned_updates=500_000), ModelEMA(nn.Linear(1, 1))
    for updates in (10, 2000, 50_000):
        long.updates = reference.updates = updates
        assert long.decay() == pytest.approx(reference.decay())


def test_a_short_run_averages_instead_of_copying_the_weights():
    # 360 updates (18 epochs of 20 batches): the reference's ramp leaves the EMA on the raw weights
    assert _lag_after(360, None) < 1.0
    # a window of a tenth of the run: the EMA trails by about that window (36 updates)
    assert 20.0 < _lag_after(360, 360) < 40.0
