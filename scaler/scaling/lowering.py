"""Lower an ArchitectureSpec to the layer graph of the released yamls (spec §1.2–§1.3).

CSP and large families: stem, stages (stride-2 conv + residual block), SPPCSP on the top stage,
a CSP-ized PAN top-down to P3 and bottom-up back to the top stage, one 3×3 output conv per level.
Row order and ``from`` indices follow the released yolov4-csp/p5/p6/p7 yamls, so state-dict keys
(``model.N.…``) match theirs.
"""

from __future__ import annotations

from scaler.architecture import ArchitectureSpec
from scaler.blocks import (
    BottleneckArgs,
    ConcatArgs,
    ConvArgs,
    CSP2Args,
    CSPArgs,
    CSPOSAArgs,
    DetectArgs,
    MaxPoolArgs,
    SPPCSPArgs,
    UpsampleArgs,
)
from scaler.spec import LayerSpec, NetworkSpec, Source


class _Rows:
    """Accumulates layers and returns each new layer's index."""

    def __init__(self) -> None:
        self.layers: list[LayerSpec] = []

    def add(self, source: Source, args: object, block: str, repeats: int = 1) -> int:
        self.layers.append(LayerSpec(source, repeats, block, args))
        return len(self.layers) - 1


def lower(architecture: ArchitectureSpec) -> NetworkSpec:
    if architecture.family == "tiny":
        return _lower_tiny(architecture)
    rows = _Rows()
    rows.add(-1, ConvArgs(architecture.stem_channels, 3, 1), "Conv")
    stage_outputs: dict[int, int] = {}
    for stage in architecture.stages:
        rows.add(-1, ConvArgs(stage.out_channels, 3, 2), "Conv")
        if stage.block == "Bottleneck":
            stage_outputs[stage.level] = rows.add(
                -1, BottleneckArgs(stage.out_channels), "Bottleneck", stage.repeats
            )
        else:
            stage_outputs[stage.level] = rows.add(
                -1, CSPArgs(stage.out_channels), "BottleneckCSP", stage.repeats
            )
    backbone_length = len(rows.layers)

    neck = architecture.neck
    top = architecture.stages[-1].level
    top_down = {top: rows.add(-1, SPPCSPArgs(neck.spp_channels), "SPPCSP")}
    for level in range(top - 1, architecture.head.levels[0] - 1, -1):
        channels = neck.at(level).channels
        rows.add(-1, ConvArgs(channels, 1, 1), "Conv")
        rows.add(-1, UpsampleArgs(None, 2, "nearest"), "Upsample")
        rows.add(stage_outputs[level], ConvArgs(channels, 1, 1), "Conv")
        rows.add((-1, -2), ConcatArgs(1), "Concat")
        top_down[level] = rows.add(-1, CSP2Args(channels), "BottleneckCSP2", neck.csp_repeats)

    first = architecture.head.levels[0]
    outputs = [rows.add(-1, ConvArgs(neck.at(first).output_channels, 3, 1), "Conv")]
    for level in architecture.head.levels[1:]:
        channels = neck.at(level).channels
        rows.add(-2, ConvArgs(channels, 3, 2), "Conv")
        rows.add((-1, top_down[level]), ConcatArgs(1), "Concat")
        rows.add(-1, CSP2Args(channels), "BottleneckCSP2", neck.csp_repeats)
        outputs.append(rows.add(-1, ConvArgs(neck.at(level).output_channels, 3, 1), "Conv"))
    rows.add(tuple(outputs), DetectArgs(architecture.head.num_classes, architecture.head.anchors), "Detect")
    return _network(architecture, rows, backbone_length)


def _lower_tiny(architecture: ArchitectureSpec) -> NetworkSpec:
    """darknet yolov4-tiny.cfg as a graph: three CSPOSA stages, two heads (P4, P5)."""
    rows = _Rows()
    rows.add(-1, ConvArgs(architecture.stem_channels, 3, 2), "Conv")
    osa_stages = [stage for stage in architecture.stages if stage.block == "CSPOSA"]
    rows.add(-1, ConvArgs(osa_stages[0].out_channels, 3, 2), "Conv")
    block_outputs: dict[int, int] = {}
    for stage in osa_stages:
        rows.add(-1, ConvArgs(stage.out_channels, 3, 1), "Conv")  # the stage's base conv
        block_outputs[stage.level] = rows.add(-1, CSPOSAArgs(stage.out_channels), "CSPOSA")
        rows.add((-2, -1), ConcatArgs(1), "Concat")
        rows.add(-1, MaxPoolArgs(2, 2), "MaxPool")
    top_stage = architecture.stages[-1]
    rows.add(-1, ConvArgs(top_stage.out_channels, 3, 1), "Conv")
    backbone_length = len(rows.layers)

    upper, lower_level = architecture.neck.at(5), architecture.neck.at(4)
    lateral = rows.add(-1, ConvArgs(upper.channels, 1, 1), "Conv")
    upper_output = rows.add(-1, ConvArgs(upper.output_channels, 3, 1), "Conv")
    rows.add(lateral, ConvArgs(lower_level.channels, 1, 1), "Conv")
    rows.add(-1, UpsampleArgs(None, 2, "nearest"), "Upsample")
    rows.add((-1, block_outputs[4]), ConcatArgs(1), "Concat")
    lower_output = rows.add(-1, ConvArgs(lower_level.output_channels, 3, 1), "Conv")
    rows.add(
        (lower_output, upper_output),
        DetectArgs(architecture.head.num_classes, architecture.head.anchors),
        "Detect",
    )
    return _network(architecture, rows, backbone_length)


def _network(architecture: ArchitectureSpec, rows: _Rows, backbone_length: int) -> NetworkSpec:
    return NetworkSpec(
        name=architecture.name,
        layers=tuple(rows.layers),
        backbone_length=backbone_length,
        activation=architecture.activation,
        input_size=architecture.input_size,
    )
