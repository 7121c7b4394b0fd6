"""Read and write the ScaledYOLOv4/YOLOv5 model-yaml format, safely (no eval).

Reading applies the reference parse rules (spec §1.5): ``number`` is scaled by
``depth_multiple`` with banker's rounding, the first argument of width-carrying blocks by
``width_multiple`` with ceil to a multiple of 8, and the tokens ``nc`` / ``anchors`` / ``None``
are resolved. Writing emits a yaml whose widths and depths are final (multiples 1.0), so
reading it back gives the identical network.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaler.anchors import generated_anchors
from scaler.blocks import BLOCKS, Anchors, DetectArgs
from scaler.blocks.activations import check_activation
from scaler.errors import SpecError
from scaler.scaling.rules import scale_depth, scale_width
from scaler.spec import LayerSpec, NetworkSpec

# Activation spellings found in YOLOv5-style yamls, mapped without evaluating them.
_ACTIVATION_ALIASES = {
    "nn.SiLU()": "silu",
    "nn.ReLU()": "relu",
    "nn.LeakyReLU(0.1)": "leaky",
    "nn.Mish()": "mish",
    "Mish()": "mish",
    "nn.Identity()": "linear",
}
_TRUE, _FALSE = ("True", "true"), ("False", "false")


def load_model_yaml(
    source: str | Path | Mapping[str, Any],
    *,
    num_classes: int | None = None,
    name: str | None = None,
) -> NetworkSpec:
    """A NetworkSpec from a model yaml (path, yaml text or already-parsed mapping)."""
    document = _read(source)
    nc = num_classes if num_classes is not None else document.get("nc")
    if not isinstance(nc, int) or isinstance(nc, bool) or nc < 1:
        raise SpecError("nc", f"must be a positive integer, got {nc!r}")
    depth = _positive_number(document.get("depth_multiple", 1.0), "depth_multiple")
    width = _positive_number(document.get("width_multiple", 1.0), "width_multiple")
    activation = _activation(document.get("activation", "mish"))
    rows: list[tuple[str, list[Any]]] = []
    for section in ("backbone", "head"):
        section_rows = document.get(section)
        if not isinstance(section_rows, list) or not section_rows:
            raise SpecError(section, "must be a non-empty list of [from, number, module, args] rows")
        rows += [(f"{section}[{i}]", row) for i, row in enumerate(section_rows)]
    anchors = document.get("anchors")
    layers = tuple(_layer(field, row, nc, anchors, depth, width) for field, row in rows)
    input_size = document.get("input_size", 640)
    if not isinstance(input_size, int) or input_size <= 0:
        raise SpecError("input_size", f"must be a positive integer, got {input_size!r}")
    return NetworkSpec(
        name=name or str(document.get("name", "custom")),
        layers=layers,
        backbone_length=len(document["backbone"]),
        activation=activation,
        input_size=input_size,
    )


def _read(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    text = source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        if not path.is_file():
            raise SpecError("model", f"model yaml {str(path)!r} does not exist")
        text = path.read_text()
    try:
        document = yaml.safe_load(str(text))
    except yaml.YAMLError as error:
        raise SpecError("model", f"not valid yaml: {error}") from error
    if not isinstance(document, Mapping):
        raise SpecError("model", "a model yaml must be a mapping with nc, anchors, backbone and head")
    return document


def _positive_number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SpecError(field, f"must be a positive number, got {value!r}")
    return float(value)


def _activation(value: object, field: str = "activation") -> str:
    if not isinstance(value, str):
        raise SpecError(field, f"must be a string, got {value!r}")
    return check_activation(_ACTIVATION_ALIASES.get(value, value), field)


def _layer(field: str, row: object, nc: int, anchors: object, depth: float, width: float) -> LayerSpec:
    if not isinstance(row, list) or len(row) not in (4, 5):
        raise SpecError(field, "a row is [from, number, module, args] (optionally {activation: ...})")
    source, number, module, args = row[:4]
    if isinstance(source, list) and source and all(_is_int(s) for s in source):
        source = tuple(source)
    elif not _is_int(source):
        raise SpecError(f"{field}.from", f"must be an index or a list of indices, got {source!r}")
    if not _is_int(number) or number < 0:
        raise SpecError(f"{field}.number", f"must be a non-negative integer, got {number!r}")
    if not isinstance(module, str):
        raise SpecError(f"{field}.module", f"must be a block name, got {module!r}")
    block_type = BLOCKS.get(module, f"{field}.module")
    if not isinstance(args, list):
        raise SpecError(f"{field}.args", f"must be a list, got {args!r}")
    activation = None
    if len(row) == 5:
        options = row[4]
        if not isinstance(options, Mapping) or set(options) - {"activation"}:
            raise SpecError(f"{field}.options", "only {activation: NAME} is supported")
        activation = _activation(options.get("activation"), f"{field}.activation")
    if block_type.args_type is DetectArgs:
        typed_args: Any = _detect_args(f"{field}.args", args, nc, anchors, source)
    else:
        values = [nc if value == "nc" else value for value in args]
        no = None
        if block_type.width_scaled and values and _is_int(values[0]):
            if isinstance(anchors, list) and anchors and isinstance(anchors[0], list):
                no = len(anchors[0]) // 2 * (nc + 5)
            if values[0] != no:
                values[0] = scale_width(values[0], width)
        typed_args = _typed(block_type.args_type, values, f"{field}.args")
    return LayerSpec(source, scale_depth(number, depth), block_type.name, typed_args, activation)


def _detect_args(field: str, args: list[Any], nc: int, anchors: object, source: object) -> DetectArgs:
    if len(args) != 2:
        raise SpecError(field, "Detect takes [nc, anchors]")
    classes = nc if args[0] == "nc" else args[0]
    value = anchors if args[1] == "anchors" else args[1]
    levels = len(source) if isinstance(source, tuple) else 1
    if _is_int(value) and value > 0:  # YOLOv5 style 'anchors: 3' → priors to be fitted by auto-anchor
        resolved: Anchors = generated_anchors(tuple(range(3, 3 + levels)), value)
    elif isinstance(value, list) and value and all(isinstance(level, list) for level in value):
        resolved = tuple(tuple(float(v) for v in level) for level in value)
    else:
        raise SpecError("anchors", "must be a list of per-level [w1, h1, w2, h2, ...] lists or a count")
    if len(resolved) != levels or len({len(level) for level in resolved}) != 1 or len(resolved[0]) % 2:
        raise SpecError("anchors", f"needs {levels} levels with the same even number of values")
    if not _is_int(classes) or classes < 1:
        raise SpecError(field, f"number of classes must be a positive integer, got {classes!r}")
    return DetectArgs(classes, resolved)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _typed(args_type: type, values: list[Any], field: str) -> Any:
    fields = dataclasses.fields(args_type)
    if len(values) > len(fields):
        raise SpecError(
            field, f"{args_type.__name__} takes at most {len(fields)} arguments, got {len(values)}"
        )
    hints = typing.get_type_hints(args_type)
    converted = {
        spec.name: _coerce(value, hints[spec.name], f"{field}[{i}]")
        for i, (spec, value) in enumerate(zip(fields, values, strict=False))
    }
    try:
        return args_type(**converted)
    except TypeError as error:
        raise SpecError(field, str(error)) from error


def _matches(value: Any, option: Any) -> bool:
    if option is int:
        return _is_int(value)
    if option is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if option is str:
        return isinstance(value, str)
    return False


def _coerce(value: Any, hint: Any, field: str) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value in (None, "None") and type(None) in options:
        return None
    for option in options:
        if option is bool and (isinstance(value, bool) or value in _TRUE + _FALSE):
            return value if isinstance(value, bool) else value in _TRUE
        if _matches(value, option):
            return value
        is_tuple = typing.get_origin(option) is tuple
        if is_tuple and isinstance(value, list | tuple) and all(map(_is_int, value)):
            return tuple(value)
    raise SpecError(field, f"{value!r} is not a valid {hint}")


def dump_model_yaml(spec: NetworkSpec) -> str:
    """The model yaml of ``spec`` (final widths and depths, multiples 1.0)."""
    head = [
        "# Scaler model yaml (ScaledYOLOv4/YOLOv5 format): widths and depths are final.",
        f"name: {spec.name}",
        f"nc: {spec.num_classes}",
        "depth_multiple: 1.0",
        "width_multiple: 1.0",
        f"activation: {spec.activation}",
        f"input_size: {spec.input_size}",
        "",
        "anchors:",
    ]
    for level in spec.detect.anchors:
        head.append("  - [" + ", ".join(_number(v) for v in level) + "]")
    lines = [*head, "", "backbone:", "  # [from, number, module, args]", "  ["]
    for index, layer in enumerate(spec.layers):
        if index == spec.backbone_length:
            lines += ["  ]", "", "head:", "  ["]
        last = index in (spec.backbone_length - 1, len(spec.layers) - 1)
        lines.append(f"    {_row(layer)}{'' if last else ','}  # {index}")
    lines += ["  ]", ""]
    return "\n".join(lines)


def _row(layer: LayerSpec) -> str:
    source = (
        f"[{', '.join(map(str, layer.source))}]" if isinstance(layer.source, tuple) else str(layer.source)
    )
    block_type = BLOCKS.get(layer.block)
    if isinstance(layer.args, DetectArgs):
        args = "[nc, anchors]"
    else:
        values = [getattr(layer.args, f.name) for f in dataclasses.fields(layer.args)]
        defaults = [f.default for f in dataclasses.fields(layer.args)]
        if block_type.width_scaled:
            while len(values) > block_type.yaml_min_args and values[-1] == defaults[len(values) - 1]:
                values.pop()
        args = "[" + ", ".join(_value(v) for v in values) + "]"
    options = f", {{activation: {layer.activation}}}" if layer.activation else ""
    return f"[{source}, {layer.repeats}, {block_type.yaml_spelling}, {args}{options}]"


def _value(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
