"""SGD with the reference's three parameter groups, cosine schedule (optionally restarted at
successive halving's rungs) and warm-up."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from workers.training.hyp import Hyperparameters

NOMINAL_BATCH = 64
MIN_WARMUP_ITERATIONS = 1000
MAX_WARMUP_FRACTION = 0.3


def accumulation(batch_size: int, nominal_batch: int = NOMINAL_BATCH) -> int:
    return max(round(nominal_batch / batch_size), 1)


OPTIMIZERS = ("sgd", "adam")


def build_optimizer(
    model: nn.Module,
    hyp: Hyperparameters,
    batch_size: int,
    nominal_batch: int = NOMINAL_BATCH,
    kind: str = "sgd",
) -> torch.optim.Optimizer:
    """Group 0: BN weights (no decay); group 1: conv weights (decay scaled to the nominal batch of
    64); group 2: biases (no decay). Nesterov SGD, or Adam with betas (momentum, 0.999) as the
    reference's ``--adam`` (which wants a lower lr0, e.g. 0.001)."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"optimizer: must be one of {', '.join(OPTIMIZERS)}, got {kind!r}")
    norms, weights, biases = [], [], []
    for module in model.modules():
        if isinstance(getattr(module, "bias", None), nn.Parameter):
            biases.append(module.bias)
        if isinstance(module, nn.BatchNorm2d):
            norms.append(module.weight)
        elif isinstance(getattr(module, "weight", None), nn.Parameter):
            weights.append(module.weight)
    decay = hyp.weight_decay * batch_size * accumulation(batch_size, nominal_batch) / nominal_batch
    optimizer: torch.optim.Optimizer
    if kind == "adam":
        optimizer = torch.optim.Adam(norms, lr=hyp.lr0, betas=(hyp.momentum, 0.999))
    else:
        optimizer = torch.optim.SGD(norms, lr=hyp.lr0, momentum=hyp.momentum, nesterov=True)
    optimizer.add_param_group({"params": weights, "weight_decay": decay})
    optimizer.add_param_group({"params": biases})
    return optimizer


def cosine_factor(epoch: float, epochs: int, final_fraction: float) -> float:
    """lf(x) = ((1 + cos(πx / epochs)) / 2)·(1 − lrf) + lrf."""
    return ((1 + math.cos(math.pi * epoch / epochs)) / 2) * (1 - final_fraction) + final_fraction


def cycle_bounds(epoch: int, epochs: int, restarts: tuple[int, ...] = ()) -> tuple[int, int]:
    """[start, end) of the cosine cycle that holds ``epoch``; restarts outside (0, epochs) are
    ignored."""
    starts = sorted({0, *(restart for restart in restarts if 0 < restart < epochs)})
    start = max(item for item in starts if item <= epoch)
    end = min([item for item in starts if item > epoch] + [epochs])
    return start, end


def schedule_factor(epoch: int, epochs: int, final_fraction: float, restarts: tuple[int, ...] = ()) -> float:
    """The learning-rate factor of ``epoch``: one cosine over the run, or with ``restarts`` one
    per cycle (warm restarts, SGDR-style), each reaching lrf at its own end."""
    start, end = cycle_bounds(epoch, epochs, restarts)
    return cosine_factor(epoch - start, end - start, final_fraction)


@dataclass(frozen=True)
class Warmup:
    """Linear warm-up over ``iterations``: bias lr from warmup_bias_lr down, other lrs up from 0,
    momentum from warmup_momentum, gradient accumulation from 1 to the nominal batch."""

    iterations: int
    hyp: Hyperparameters
    batch_size: int
    nominal_batch: int = NOMINAL_BATCH

    @classmethod
    def for_run(
        cls, hyp: Hyperparameters, batches_per_epoch: int, epochs: int, batch_size: int, nominal_batch: int
    ) -> Warmup:
        """max(warmup_epochs, 1000 iterations) as the reference, but at most 30 % of a short run."""
        wanted = max(round(hyp.warmup_epochs * batches_per_epoch), MIN_WARMUP_ITERATIONS)
        cap = round(MAX_WARMUP_FRACTION * batches_per_epoch * epochs)
        return cls(min(wanted, cap) if hyp.warmup_epochs > 0 else 0, hyp, batch_size, nominal_batch)

    def accumulate(self, iteration: int) -> int:
        final = accumulation(self.batch_size, self.nominal_batch)
        if iteration >= self.iterations:
            return final
        return max(1, round(float(np.interp(iteration, [0, self.iterations], [1, final]))))

    def apply(self, optimizer: torch.optim.Optimizer, iteration: int, lr_factor: float) -> None:
        if iteration >= self.iterations:
            return
        span = [0, self.iterations]
        for index, group in enumerate(optimizer.param_groups):
            start = self.hyp.warmup_bias_lr if index == 2 else 0.0
            group["lr"] = float(np.interp(iteration, span, [start, group["initial_lr"] * lr_factor]))
            momentum = float(np.interp(iteration, span, [self.hyp.warmup_momentum, self.hyp.momentum]))
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            else:
                group["momentum"] = momentum
