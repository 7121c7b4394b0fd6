"""Immutable specs of a network graph: what the builder walks and the model yaml stores.

A :class:`NetworkSpec` is the resolved form of a model yaml: every width and repeat count is
final (multipliers already applied), each layer names its block in the registry and carries
that block's typed argument dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler.blocks import BLOCKS, DetectArgs
from scaler.errors import SpecError

Source = int | tuple[int, ...]


@dataclass(frozen=True)
class LayerSpec:
    """One row ``[from, number, module, args]``; ``activation`` overrides the network's default."""

    source: Source
    repeats: int
    block: str
    args: Any
    activation: str | None = None

    def sources(self, index: int) -> tuple[int, ...]:
        """Absolute indices of this layer's inputs (−1 means the network input)."""
        relative = self.source if isinstance(self.source, tuple) else (self.source,)
        return tuple(s if s >= 0 else index + s for s in relative)


@dataclass(frozen=True)
class NetworkSpec:
    """A whole detector as a layer graph. The last layer is the Detect head."""

    name: str
    layers: tuple[LayerSpec, ...]
    backbone_length: int
    activation: str = "mish"
    input_size: int = 640

    def __post_init__(self) -> None:
        if not self.layers:
            raise SpecError("layers", "a network needs at least one layer")
        for index, layer in enumerate(self.layers):
            field = f"layers[{index}]"
            block_type = BLOCKS.get(layer.block, f"{field}.block")
            if not isinstance(layer.args, block_type.args_type):
                raise SpecError(
                    f"{field}.args", f"expected {block_type.args_type.__name__} for {layer.block}"
                )
            if layer.repeats < 0:
                raise SpecError(f"{field}.repeats", "must be ≥ 0")
            for source in layer.sources(index):
                if source >= index or source < -1 or (source == -1 and index != 0):
                    raise SpecError(f"{field}.source", f"layer {index} cannot read from layer {source}")
        if not isinstance(self.layers[-1].args, DetectArgs):
            raise SpecError("layers", "the last layer must be a Detect head")
        if not 0 < self.backbone_length < len(self.layers):
            raise SpecError("backbone_length", "must split the layers into a backbone and a head")

    @property
    def detect(self) -> DetectArgs:
        args = self.layers[-1].args
        assert isinstance(args, DetectArgs)
        return args

    @property
    def num_classes(self) -> int:
        return self.detect.num_classes

    @property
    def num_levels(self) -> int:
        return len(self.detect.anchors)

    @property
    def num_anchors(self) -> int:
        return len(self.detect.anchors[0]) // 2
