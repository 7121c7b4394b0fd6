"""What a network's latency is made of, counted from its shapes alone: the features a latency
model (``workers.latency_model``) weighs. A meta-device forward pass (milliseconds, no memory, no
device) records every operator: convolutions by kind — their FLOPs are the compute a device
spends — and the elements every operator writes — the memory traffic that bounds the cheap
operators (activations, concatenations, upsampling, pooling) — and the operator count, which is
a runtime's fixed cost per operator. Batch norms are left out: deployment folds them into the
convolutions.

The same network is a different graph in another runtime (``GraphRules``): eager torch runs every
module's operator, while the exported ONNX graph folds a ReLU-like activation into the convolution
before it (no operator, no pass over memory) and runs Mish as softplus, tanh and a product (three
operators and three passes). The features are counted the way the network's runtime runs it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from scaler.profile import meta_forward

# the features, in the order a model's weights follow them; every value is per batch
FEATURES: tuple[str, ...] = (
    "conv1x1_gflops",  # pointwise convolutions (CSP splits and merges, the heads)
    "conv3x3_gflops",  # 3x3 convolutions at stride 1 (the residual blocks)
    "conv_strided_gflops",  # strided convolutions (the downsampling between stages)
    "conv_output_melements",  # what the convolutions write
    "transcendental_melements",  # what exp/tanh-based activations write (Mish, SiLU, sigmoid)
    "other_output_melements",  # what every other operator writes (memory-bound work)
    "operators_k",  # operators run, in thousands (a runtime's cost per operator)
    "input_melements",  # the image itself (its copy and layout change)
)
# not run by a deployed network: batch norms are folded, views and detaches move no data
# activations that evaluate exp/log/tanh per element: far dearer per element than a leaky ReLU
TRANSCENDENTAL = frozenset({"mish", "silu", "sigmoid", "tanh", "softplus", "exp", "hardswish"})
SKIPPED = frozenset(
    {
        "batch_norm",
        "native_batch_norm",
        "_native_batch_norm_legit_no_training",
        "detach",
        "empty",
        "view",
        "_unsafe_view",
        "t",
        "expand",
        "alias",
        "unsqueeze",
        "squeeze",
        "permute",
        "slice",
        "select",
    }
)


@dataclass(frozen=True)
class GraphRules:
    """How a runtime runs the operators an eager forward pass records. ``fused``: activations it
    folds into the convolution they follow (gone: no operator, nothing written); ``expanded``: an
    operator its graph runs as several, each a pass over the elements."""

    name: str
    fused: frozenset[str] = frozenset()
    expanded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


EAGER = GraphRules("eager")
# the exported ONNX graph (scaler.onnx_export) as ONNX Runtime optimises it: Conv+BatchNorm folded,
# Conv+Relu/LeakyRelu/Clip fused (its FusedConv), Mish and SiLU exported as their elementwise parts
ONNX = GraphRules(
    "onnx",
    fused=frozenset({"relu", "leaky_relu", "hardtanh", "clamp"}),
    expanded={"mish": ("softplus", "tanh", "mul"), "silu": ("sigmoid", "mul")},
)
GRAPH_RULES: dict[str, GraphRules] = {rules.name: rules for rules in (EAGER, ONNX)}


class _OperatorCounter(TorchDispatchMode):
    def __init__(self, rules: GraphRules) -> None:
        super().__init__()
        self.rules = rules
        self.values: Counter[str] = Counter()
        self.names: Counter[str] = Counter()  # every operator seen, by name
        self.convolved: torch.Tensor | None = None  # a convolution's output (through its batch norm)

    def _count(self, name: str, written: int) -> None:
        kind = "transcendental_melements" if name in TRANSCENDENTAL else "other_output_melements"
        self.values[kind] += written / 1e6
        self.values["operators_k"] += 1e-3

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        result = func(*args, **(kwargs or {}))
        name = func.__name__.split(".")[0].removesuffix("_")  # in-place forms count as theirs
        self.names[name] += 1
        leaves = [leaf for leaf in torch.utils._pytree.tree_leaves(result) if isinstance(leaf, torch.Tensor)]
        source = args[0] if args else None
        follows_convolution = self.convolved is not None and source is self.convolved
        if name in SKIPPED:
            if follows_convolution and leaves:  # a batch norm's output still counts as the conv's
                self.convolved = leaves[0]
            return result
        written = sum(tensor.numel() for tensor in leaves)
        if name == "convolution":
            self.convolved = result
            weight, stride = args[1], args[3]
            output = result
            flops = 2.0 * output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
            if max(stride) > 1:
                kind = "conv_strided_gflops"
            elif weight.shape[2] == 1 and weight.shape[3] == 1:
                kind = "conv1x1_gflops"
            else:
                kind = "conv3x3_gflops"
            self.values[kind] += flops / 1e9
            self.values["conv_output_melements"] += written / 1e6
            self.values["operators_k"] += 1e-3
        elif name in self.rules.fused and follows_convolution:
            pass  # run inside the convolution's kernel
        else:
            for part in self.rules.expanded.get(name, (name,)):
                self._count(part, written)
        return result


def latency_features(
    model: nn.Module, input_size: int, batch: int = 1, rules: GraphRules = EAGER
) -> dict[str, float]:
    """``FEATURES`` of an inference forward pass of ``model`` at ``input_size`` × ``batch``, as
    the runtime of ``rules`` runs it."""
    counter = _OperatorCounter(rules)
    meta_forward(model, input_size, batch, counter)
    values = {name: float(counter.values.get(name, 0.0)) for name in FEATURES}
    values["input_melements"] = batch * 3 * input_size * input_size / 1e6
    return values
