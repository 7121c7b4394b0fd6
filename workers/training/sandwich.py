"""The sandwich rule (BigNAS, Yu et al. 2020): while a supernet trains, every step also trains
its smallest sub-network and one random sub-network on the same batch, with the supernet's own
weights — so that the sub-networks sliced from it afterwards are good without retraining.

A sub-network is another point of the family, mapped onto the supernet by structure
(``scaler.weight_map``) with its **leading** channels (the order must not move while the weights
train). Its tensors are gathered from the supernet's parameters by index, differentiably
(``scaler.weight_map.gather``), so its loss's gradients land in the supernet's parameters; its
batch-norm statistics are throw-away copies (a sliced candidate measures its own:
``recalibrate_batch_norm``).
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional

from scaler import Detector, NetworkSpec
from scaler.weight_map import WeightMap, channel_plan, gather, plan_mapping
from workers.training.hyp import Hyperparameters
from workers.training.loss import YoloLoss

CACHED_SUB_NETWORKS = 32  # structures, not points: widths round to multiples of 8, depths to integers


class Sandwich:
    """Extra losses of a supernet's step: its smallest and one random sub-network."""

    def __init__(
        self,
        supernet: Detector,
        smallest: NetworkSpec,
        sample: Callable[[random.Random], NetworkSpec],
        hyp: Hyperparameters,
        seed: int = 0,
    ) -> None:
        self.supernet = supernet
        self.smallest = smallest
        self.sample = sample
        self.hyp = hyp
        self.rng = random.Random(seed)
        self.plan = channel_plan(supernet)
        self._sub_networks: OrderedDict[NetworkSpec, tuple[Detector, WeightMap, YoloLoss]] = OrderedDict()

    def _sub_network(self, spec: NetworkSpec) -> tuple[Detector, WeightMap, YoloLoss]:
        # many points of a space are one structure: only the layers and the head make it
        spec = replace(spec, name="sub-network", input_size=self.supernet.spec.input_size)
        if spec in self._sub_networks:
            self._sub_networks.move_to_end(spec)
            return self._sub_networks[spec]
        model = Detector(spec).to(next(self.supernet.parameters()).device)
        model.train()
        for parameter in model.parameters():
            parameter.requires_grad_(False)  # its values come from the supernet
        weight_map = plan_mapping(
            self.plan,
            self.supernet.state_dict(),
            channel_plan(model),
            model.state_dict(),
            by_importance=False,
        )
        entry = (model, weight_map, YoloLoss(model, self.hyp))
        self._sub_networks[spec] = entry
        if len(self._sub_networks) > CACHED_SUB_NETWORKS:
            self._sub_networks.popitem(last=False)
        return entry

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The summed loss of the smallest and one random sub-network on this batch, each at its
        own input size (BigNAS samples resolutions too: the batch is resized; the targets are in
        fractions of the image, so they stay), which is also what keeps the sandwich cheap."""
        tensors = dict(self.supernet.state_dict(keep_vars=True))
        total = torch.zeros((), device=images.device)
        for spec in (self.smallest, self.sample(self.rng)):
            size = min(spec.input_size, images.shape[-1])
            model, weight_map, loss_of = self._sub_network(spec)
            batch = (
                images
                if size == images.shape[-1]
                else functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
            )
            predictions = functional_call(model, gather(weight_map, model, tensors), (batch,))
            loss, _ = loss_of(predictions, targets)
            total = total + loss
        return total


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, batches: Iterable[torch.Tensor], limit: int = 20) -> None:
    """Re-measure every batch norm's statistics on ``batches`` of training images (a cumulative
    mean over at most ``limit`` batches): a network sliced from a supernet carries the supernet's
    statistics, not its own."""
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    was_training = model.training
    model.train()
    for index, images in enumerate(batches):
        if index >= limit:
            break
        model(images)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
