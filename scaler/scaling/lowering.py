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
    DetectArgs,
    SPPCSPArgs,
    UpsampleArgs,
)
from scaler.scaling.fixed_layouts import lower_tiny, lower_yolov4
from scaler.scaling.rows import Rows, network
from scaler.spec import NetworkSpec


def lower(architecture: ArchitectureSpec) -> NetworkSpec:
    if architecture.family == "tiny":
        return lower_tiny(architecture)
    if architecture.family == "yolov4":
        return lower_yolov4(architecture)
    rows = Rows()
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
    return network(architecture, rows, backbone_length)
