"""Network blocks, one family per module, registered in :data:`BLOCKS`."""

from scaler.blocks import bottleneck, conv, csp, darknet_csp, detect, osa, spp, structural
from scaler.blocks.activations import ACTIVATIONS, FastMish, Mish, make_activation
from scaler.blocks.bottleneck import Bottleneck, BottleneckArgs
from scaler.blocks.conv import Conv, ConvArgs
from scaler.blocks.csp import BottleneckCSP, BottleneckCSP2, CSP2Args, CSPArgs
from scaler.blocks.darknet_csp import DarknetCSP, DarknetCSPArgs
from scaler.blocks.detect import Anchors, Detect, DetectArgs
from scaler.blocks.osa import CSPOSA, CSPOSAArgs
from scaler.blocks.registry import BLOCKS, BlockRegistry, BlockType, BuildContext
from scaler.blocks.spp import SPP, SPPCSP, SPPArgs, SPPCSPArgs
from scaler.blocks.structural import Concat, ConcatArgs, MaxPoolArgs, UpsampleArgs

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "CSPOSA",
    "SPP",
    "SPPCSP",
    "Anchors",
    "BlockRegistry",
    "BlockType",
    "Bottleneck",
    "BottleneckArgs",
    "BottleneckCSP",
    "BottleneckCSP2",
    "BuildContext",
    "CSP2Args",
    "CSPArgs",
    "CSPOSAArgs",
    "Concat",
    "ConcatArgs",
    "Conv",
    "ConvArgs",
    "DarknetCSP",
    "DarknetCSPArgs",
    "Detect",
    "DetectArgs",
    "FastMish",
    "MaxPoolArgs",
    "Mish",
    "SPPArgs",
    "SPPCSPArgs",
    "UpsampleArgs",
    "bottleneck",
    "conv",
    "csp",
    "darknet_csp",
    "detect",
    "make_activation",
    "osa",
    "spp",
    "structural",
]
