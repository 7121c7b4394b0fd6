"""Lowerings of the fixed-layout families: YOLOv4-tiny (darknet yolov4-tiny.cfg) and the
original YOLOv4 (darknet yolov4.cfg: CSPDarknet53 + SPP + PAN, Mish backbone, leaky neck)."""

from __future__ import annotations

from scaler.architecture import ArchitectureSpec
from scaler.blocks import (
    ConcatArgs,
    ConvArgs,
    CSPOSAArgs,
    DarknetCSPArgs,
    DetectArgs,
    MaxPoolArgs,
    SPPArgs,
    UpsampleArgs,
)
from scaler.scaling.rows import Rows, network
from scaler.spec import NetworkSpec


def lower_tiny(architecture: ArchitectureSpec) -> NetworkSpec:
    """darknet yolov4-tiny.cfg as a graph: three CSPOSA stages, two heads (P4, P5)."""
    rows = Rows()
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
    return network(architecture, rows, backbone_length)


def lower_yolov4(architecture: ArchitectureSpec) -> NetworkSpec:
    """yolov4.cfg as a graph: CSPDarknet53 stages, then (leaky) SPP block and a PAN whose levels
    are stacks of alternating 1×1 / 3×3 convs, one 3×3 output conv per level."""
    rows = Rows()
    rows.add(-1, ConvArgs(architecture.stem_channels, 3, 1), "Conv")
    stage_outputs: dict[int, int] = {}
    for stage in architecture.stages:
        rows.add(-1, ConvArgs(stage.out_channels, 3, 2), "Conv")
        first = stage.level == 1
        args = DarknetCSPArgs(stage.out_channels, 1.0 if first else 0.5, 0.5 if first else 1.0)
        stage_outputs[stage.level] = rows.add(-1, args, "DarknetCSP", stage.repeats)
    backbone_length = len(rows.layers)

    neck = architecture.neck
    act = neck.activation

    def conv_stack(channels: int, output_channels: int, pairs: int) -> int:
        """1×1 (channels), then ``pairs`` × (3×3 output_channels, 1×1 channels)."""
        index = rows.add(-1, ConvArgs(channels, 1, 1), "Conv", activation=act)
        for _ in range(pairs):
            rows.add(-1, ConvArgs(output_channels, 3, 1), "Conv", activation=act)
            index = rows.add(-1, ConvArgs(channels, 1, 1), "Conv", activation=act)
        return index

    top = architecture.stages[-1].level
    top_level = neck.at(top)
    conv_stack(top_level.channels, top_level.output_channels, 1)
    rows.add(-1, SPPArgs(), "SPP")
    top_down = {top: conv_stack(top_level.channels, top_level.output_channels, 1)}
    for level in range(top - 1, architecture.head.levels[0] - 1, -1):
        spec = neck.at(level)
        rows.add(-1, ConvArgs(spec.channels, 1, 1), "Conv", activation=act)
        rows.add(-1, UpsampleArgs(None, 2, "nearest"), "Upsample")
        rows.add(stage_outputs[level], ConvArgs(spec.channels, 1, 1), "Conv", activation=act)
        rows.add((-1, -2), ConcatArgs(1), "Concat")
        top_down[level] = conv_stack(spec.channels, spec.output_channels, neck.csp_repeats)

    first_level = architecture.head.levels[0]
    outputs = [rows.add(-1, ConvArgs(neck.at(first_level).output_channels, 3, 1), "Conv", activation=act)]
    for level in architecture.head.levels[1:]:
        spec = neck.at(level)
        rows.add(-2, ConvArgs(spec.channels, 3, 2), "Conv", activation=act)
        rows.add((-1, top_down[level]), ConcatArgs(1), "Concat")
        conv_stack(spec.channels, spec.output_channels, neck.csp_repeats)
        outputs.append(rows.add(-1, ConvArgs(spec.output_channels, 3, 1), "Conv", activation=act))
    rows.add(tuple(outputs), DetectArgs(architecture.head.num_classes, architecture.head.anchors), "Detect")
    return network(architecture, rows, backbone_length)
