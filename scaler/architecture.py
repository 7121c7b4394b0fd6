"""Immutable architecture specs: the readable, scaled description of a detector.

``compound_scale`` produces an :class:`ArchitectureSpec` (stages with repeats and widths, the
neck's per-level widths, the head's levels and anchors); ``to_network`` lowers it to the layer
graph (:class:`~scaler.spec.NetworkSpec`) that the builder walks and the model yaml stores.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.blocks import Anchors
from scaler.spec import NetworkSpec


@dataclass(frozen=True)
class StageSpec:
    """One backbone stage at stride 2^level: a stride-2 conv then ``repeats`` residual layers."""

    level: int
    out_channels: int
    repeats: int
    block: str  # "BottleneckCSP", "Bottleneck" (first CSP-YOLOv4 stage), "CSPOSA" (tiny), "DarknetCSP"


@dataclass(frozen=True)
class NeckLevelSpec:
    """PAN widths at one level: ``channels`` for the 1×1/CSP2/downsample convs, and the 3×3
    output conv that feeds the head."""

    level: int
    channels: int
    output_channels: int


@dataclass(frozen=True)
class NeckSpec:
    spp_channels: int
    csp_repeats: int
    levels: tuple[NeckLevelSpec, ...]
    activation: str | None = None  # None: the network's activation (YOLOv4's neck uses leaky)

    def at(self, level: int) -> NeckLevelSpec:
        return next(item for item in self.levels if item.level == level)


@dataclass(frozen=True)
class HeadSpec:
    levels: tuple[int, ...]
    num_classes: int
    anchors: Anchors

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(2**level for level in self.levels)

    @property
    def anchors_per_level(self) -> int:
        return len(self.anchors[0]) // 2


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str
    family: str
    input_size: int
    activation: str
    stem_channels: int
    stages: tuple[StageSpec, ...]
    neck: NeckSpec
    head: HeadSpec
    depth_multiple: float = 1.0
    width_multiple: float = 1.0

    def to_network(self) -> NetworkSpec:
        """The layer graph of this architecture (what the builder walks and the yaml stores)."""
        from scaler.scaling.lowering import lower  # lowering imports this module

        return lower(self)
