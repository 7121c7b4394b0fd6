"""Detector: the nn.Module of a NetworkSpec, with strides, anchors and biases set up as the
reference Model does (spec §1.5)."""

from __future__ import annotations

import torch
from torch import nn

from scaler.blocks import Detect
from scaler.builder import build_modules, route_layers
from scaler.spec import NetworkSpec

STRIDE_PROBE_SIZE = 256


class Detector(nn.Module):
    """Routes each layer's inputs by the spec's ``from`` indices; ``model.N`` are the layers."""

    def __init__(self, spec: NetworkSpec, modules: tuple[nn.Module, ...] | None = None) -> None:
        """Build ``spec``; with ``modules`` (already initialised, e.g. shared with another
        detector) use those instead of new ones."""
        super().__init__()
        routing = route_layers(spec)
        self.spec = spec
        self.model = nn.Sequential(*(modules if modules is not None else build_modules(spec, routing)))
        self.inputs = routing.inputs
        self.takes_list = routing.takes_list
        self.out_channels = routing.out_channels
        self.input_multiple = int(max(routing.strides))
        used_later = {
            source
            for index, sources in enumerate(routing.inputs)
            for source in sources
            if source != index - 1 or routing.takes_list[index]
        }
        self.keep = frozenset(used_later)
        if modules is None:
            self._initialize()

    @property
    def detect(self) -> Detect:
        head = self.model[-1]
        assert isinstance(head, Detect)
        return head

    @property
    def stride(self) -> torch.Tensor:
        return self.detect.stride

    @property
    def max_stride(self) -> int:
        """The largest detection stride (an input must be a multiple of ``input_multiple``, which
        is larger for once-for-all sub-networks that keep deeper backbone stages)."""
        return int(self.stride.max().item())

    def forward(self, image: torch.Tensor) -> list[torch.Tensor] | tuple | torch.Tensor:
        outputs: list[torch.Tensor | None] = []
        x: torch.Tensor | list[torch.Tensor] = image
        for index, layer in enumerate(self.model):
            sources = self.inputs[index]
            if self.takes_list[index]:
                x = [image if s == -1 else outputs[s] for s in sources]
            elif sources[0] != index - 1:
                x = image if sources[0] == -1 else outputs[sources[0]]
            x = layer(x)
            outputs.append(x if index in self.keep else None)
        return x

    @torch.no_grad()
    def _initialize(self) -> None:
        head = self.detect
        was_training = self.training
        self.eval()
        probe = STRIDE_PROBE_SIZE  # as the reference; eval-mode BN also copes with 1×1 maps (P8)
        _, raw = self.forward(torch.zeros(1, 3, probe, probe))
        head.stride.copy_(torch.tensor([probe / level.shape[2] for level in raw]))
        head.anchors /= head.stride.view(-1, 1, 1)
        _check_anchor_order(head)
        head.initialize_biases()
        self.train(was_training)


def _check_anchor_order(head: Detect) -> None:
    """Flip the anchor order when anchor area and stride grow in opposite directions."""
    areas = head.anchor_grid.prod(-1).view(-1)
    delta_area = areas[-1] - areas[0]
    delta_stride = head.stride[-1] - head.stride[0]
    if delta_area.sign() != delta_stride.sign():
        head.anchors[:] = head.anchors.flip(0)
        head.anchor_grid[:] = head.anchor_grid.flip(0)
