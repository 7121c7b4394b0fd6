"""Exponential moving average of the weights, with the reference's ramped decay."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

DECAY = 0.9999
RAMP = 2000.0


class ModelEMA:
    """decay(u) = 0.9999·(1 − exp(−u / 2000)) after u updates: early updates follow the model."""

    def __init__(self, model: nn.Module, updates: int = 0) -> None:
        self.ema = copy.deepcopy(model).eval()
        self.updates = updates
        for parameter in self.ema.parameters():
            parameter.requires_grad_(False)

    def decay(self) -> float:
        return DECAY * (1 - math.exp(-self.updates / RAMP))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = self.decay()
        model_state = model.state_dict()
        for key, value in self.ema.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(decay).add_(model_state[key].detach(), alpha=1 - decay)
            else:
                value.copy_(model_state[key])
