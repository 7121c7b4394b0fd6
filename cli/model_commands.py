"""``scaler model …``: inspect, profile and export networks of the family."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import Any

import click

_OVERRIDES = (
    click.option(
        "--img", "input_size", type=int, default=None, help="Input size (default: the model's native size)."
    ),
    click.option("--classes", "num_classes", type=int, default=None, help="Number of classes."),
    click.option("--depth-multiple", type=float, default=None, help="Depth multiplier (banker's rounding)."),
    click.option("--width-multiple", type=float, default=None, help="Width multiplier (ceil to 8)."),
    click.option("--stages", type=int, default=None, help="Backbone stages: 5 → P5 heads, 6 → P6, 7 → P7."),
    click.option(
        "--drop-levels",
        type=int,
        default=0,
        help="Once-for-all sub-network without the top K detection levels (P7\\P7 is 1).",
    ),
    click.option(
        "--weights",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Load weights: a state dict or a reference checkpoint (.pt).",
    ),
)


def _model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OVERRIDES):
        command = option(command)
    return command


def _spec_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn SpecError into a one-line ``error: FIELD: message`` and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from scaler.errors import SpecError

        try:
            return command(*args, **kwargs)
        except SpecError as error:
            click.echo(f"error: {error.field}: {error.message}", err=True)
            raise SystemExit(2) from error

    return wrapper


def _build(name_or_yaml: str, drop_levels: int, weights: Path | None, **overrides: Any):  # noqa: ANN202
    """The requested Detector (with weights, as a sub-network), its input size checked."""
    from scaler import Detector, SpecError, drop_top_levels, resolve_network
    from scaler.checkpoint import load_weights

    spec = resolve_network(name_or_yaml, **overrides)
    model = Detector(spec)
    if weights is not None:
        try:
            load_weights(model, weights)
        except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
            raise SpecError("weights", f"{weights} does not fit {spec.name}: {str(error)[:300]}") from error
    if not 0 <= drop_levels < model.detect.nl:
        raise SpecError("drop_levels", f"can drop 0 to {model.detect.nl - 1} of {model.detect.nl} levels")
    if drop_levels:
        model = drop_top_levels(model, drop_levels)
    if spec.input_size % model.input_multiple:
        raise SpecError(
            "input_size", f"{spec.input_size} is not a multiple of the largest stride {model.input_multiple}"
        )
    return model


@click.group()
def model() -> None:
    """Inspect, profile and export networks (presets or model yamls)."""


@model.command("list")
def list_presets() -> None:
    """The released networks available by name."""
    from scaler.presets import PRESETS

    for name, point in PRESETS.items():
        click.echo(f"{name:12s} family={point.family:5s} stages={point.stages} input={point.input_size}")


@model.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of the table.")
def family(as_json: bool) -> None:
    """The released family and the once-for-all sub-networks of YOLOv4-P7, profiled at their
    native input sizes: parameters, conv GFLOPs, strides, peak activation memory."""
    from scaler import build_model, drop_top_levels
    from scaler.presets import PRESETS
    from scaler.profile import profile_model

    rows = []
    for name in PRESETS:
        network = build_model(name)
        rows.append(profile_model(network))
        if name == "yolov4-p7":
            rows += [
                profile_model(drop_top_levels(network, count), network.spec.input_size) for count in (1, 2)
            ]
    if not as_json:
        click.echo(
            f"{'network':<20} {'input':>6} {'params':>14} {'GFLOPs':>9} {'strides':<18} {'peak MiB':>9}"
        )
    for profile in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": profile.name,
                        "input_size": profile.input_size,
                        "params": profile.params,
                        "gflops": round(profile.conv_gflops, 4),
                        "strides": list(profile.strides),
                        "peak_activation_mib": round(profile.peak_activation_mib, 2),
                    }
                )
            )
            continue
        strides = "/".join(map(str, profile.strides))
        click.echo(
            f"{profile.name:<20} {profile.input_size:>6} {profile.params:>14,} {profile.conv_gflops:>9.1f} "
            f"{strides:<18} {profile.peak_activation_mib:>9.1f}"
        )


@model.command()
@click.argument("name_or_yaml")
@_model_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@_spec_errors
def show(name_or_yaml: str, as_json: bool, **overrides: Any) -> None:
    """Layer table (index, from, repeats, module, arguments, params) and totals."""
    from scaler.profile import profile_model

    network = _build(name_or_yaml, **overrides)
    profile = profile_model(network)
    if as_json:
        document = {
            "name": profile.name,
            "params": profile.params,
            "gflops": round(profile.conv_gflops, 4),
            "total_gflops": round(profile.total_gflops, 4),
            "input_size": profile.input_size,
            "strides": list(profile.strides),
            "num_anchors_per_level": profile.anchors_per_level,
            "num_classes": network.spec.num_classes,
            "peak_activation_mib": round(profile.peak_activation_mib, 2),
            "layers": [layer.params for layer in profile.layers],
            "layer_table": [_layer_json(layer) for layer in profile.layers],
        }
        click.echo(json.dumps(document))
        return
    click.echo(f"{'':>3} {'from':>14} {'n':>3}  {'module':<15} {'arguments':<40} {'params':>12}")
    for layer in profile.layers:
        arguments = ", ".join(_short(value) for value in layer.arguments)
        click.echo(
            f"{layer.index:>3} {_short(layer.source):>14} {layer.repeats:>3}  {layer.module:<15} "
            f"{arguments[:40]:<40} {layer.params:>12,}"
        )
    strides = "/".join(map(str, profile.strides))
    click.echo(
        f"{profile.name}: {len(profile.layers)} layers, {profile.params:,} parameters, "
        f"{profile.conv_gflops:.2f} GFLOPs at {profile.input_size}x{profile.input_size}, "
        f"strides {strides}, {profile.anchors_per_level} anchors per level, "
        f"peak activations {profile.peak_activation_mib:.1f} MiB"
    )


def _layer_json(layer: Any) -> dict[str, Any]:
    document = asdict(layer)
    document["from"] = document.pop("source")
    document["arguments"] = [_jsonable(value) for value in layer.arguments]
    return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    return value


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return f"<{len(value)} levels>"
        return "[" + ",".join(_short(item) for item in value) + "]"
    return str(value)


@model.command()
@click.argument("name_or_yaml")
@_model_options
@click.option("--format", "export_format", type=click.Choice(["yaml", "onnx"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--dynamic-batch", is_flag=True, help="ONNX: symbolic batch dimension.")
@_spec_errors
def export(
    name_or_yaml: str, export_format: str, output: Path, dynamic_batch: bool, **overrides: Any
) -> None:
    """Write the model as a model yaml or as ONNX (fused deployment form)."""
    network = _build(name_or_yaml, **overrides)
    output.parent.mkdir(parents=True, exist_ok=True)
    if export_format == "yaml":
        from scaler.yaml_io import dump_model_yaml

        output.write_text(dump_model_yaml(network.spec))
    else:
        from scaler.onnx_export import export_onnx

        export_onnx(network, output, network.spec.input_size, dynamic_batch=dynamic_batch)
    click.echo(f"wrote {output}")
