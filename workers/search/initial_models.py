"""Initial points written as model yamls (``space.initial_points: [{model: PATH}]``): each yaml is
turned into the point of the job's space whose network it is, and refused when it is none.

The yaml (ScaledYOLOv4/YOLOv5 format, ``scaler.yaml_io``: what ``scaler model export --format
yaml`` writes) is hostile input: it must lie inside the data roots, be at most ``MAX_MODEL_BYTES``
and is parsed with the safe loader, nesting and size bounded. Its point is inferred (family and
stages among the space's choices whose layer skeleton it has, the activation it names, the width
and depth multiples its channel and repeat counts imply) and then checked: the network the trial
would build for that point (``compound_scale``) must be the yaml's, layer for layer (classes and
anchor sizes aside: every candidate takes them from the data)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from scaler import SpecError
from scaler.blocks import BLOCKS, DetectArgs
from scaler.scaling.compound import compound_scale
from scaler.spec import LayerSpec, NetworkSpec
from scaler.yaml_io import load_model_yaml
from search_spaces import JobSpec, Point, SearchSpace, scaling_values
from search_spaces.space import FIXED_LAYOUT_FAMILIES, MODEL_KEY
from workers.data.dataset import DatasetError
from workers.data.roots import DataRoots, OutsideRootsError
from workers.trial import scaling_point_of

MAX_MODEL_BYTES = 1 << 20  # a released model yaml is ~2 kB
MAX_NESTING = 16  # a model yaml nests 5 deep (backbone, row, args, anchors)
MAX_VALUES = 100_000
TIE = 1e-9  # below an exact half, which banker's rounding may round up
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InitialModelError(ValueError):
    """A model entry of ``space.initial_points`` that is not a point of the space; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def resolve_initial_models(spec: JobSpec, roots: DataRoots) -> JobSpec:
    """``spec`` with each model entry of ``space.initial_points`` replaced by the point it
    describes (the entry's own input size and hyperparameters kept). ``InitialModelError`` naming
    the entry's field; ``OutsideRootsError`` for a yaml outside ``roots``."""
    entries = spec.space.model_entries()
    if not entries:
        return spec
    points = list(spec.space.initial_points)
    for index, entry in entries:
        points[index] = model_point(spec.space, entry, roots, f"space.initial_points[{index}]")
    space = SearchSpace.model_validate({**spec.space.model_dump(), "initial_points": points})
    return spec.with_changes(space=space)


def model_point(space: SearchSpace, entry: dict[str, Any], roots: DataRoots, field: str) -> Point:
    """The point of ``space`` whose network the yaml of ``entry`` is, under the entry's values."""
    model_field = f"{field}.{MODEL_KEY}"
    try:
        path = roots.check(Path(str(entry[MODEL_KEY])), "the model yaml", model_field)
    except OutsideRootsError:
        raise
    except DatasetError as error:  # not a usable path (too long, a symlink loop)
        raise InitialModelError(model_field, error.problems[0]) from None
    document = _read(path, model_field)
    try:
        network = load_model_yaml(document, name=path.stem)
    except SpecError as error:
        raise InitialModelError(model_field, f"not a model yaml: {error}") from None
    architecture = space.architecture
    if architecture.depth_exponents is not None:
        raise InitialModelError(model_field, "model yamls are not read in a space with depth_exponents")
    rest = {name: value for name, value in entry.items() if name != MODEL_KEY}
    input_size = rest.get("arch/input_size", document.get("input_size", architecture.input_size[0]))
    if input_size not in architecture.input_size:
        raise InitialModelError(
            model_field,
            f"its input_size {input_size!r} is not one of {list(architecture.input_size)}; "
            "give arch/input_size beside it",
        )
    if network.activation not in architecture.activation:
        raise InitialModelError(
            model_field,
            f"its activation {network.activation} is not one of {list(architecture.activation)}",
        )
    defaults = space.default_point()
    refusals: list[str] = []
    for family in architecture.family:
        for stages in architecture.stages:
            if family in FIXED_LAYOUT_FAMILIES and stages != 5:
                continue
            point = {
                **defaults,
                "arch/family": family,
                "arch/stages": stages,
                "arch/activation": network.activation,
                "arch/input_size": input_size,
            }
            refusal = _fit(space, point, network)
            if refusal is None:
                return {**point, **rest}
            refusals.append(refusal)
    raise InitialModelError(model_field, f"its network is no point of this space: {'; '.join(refusals)}")


def _read(path: Path, field: str) -> dict[str, Any]:
    try:
        if not path.is_file():
            raise InitialModelError(field, f"{path}: no such file")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise InitialModelError(
                field, f"{path}: larger than {MAX_MODEL_BYTES} bytes; a model yaml is not"
            )
        text = path.read_text(encoding="utf-8")
        document = yaml.load(text, Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError) as error:
        raise InitialModelError(field, f"{path} cannot be read: {error}") from None
    except (yaml.YAMLError, RecursionError) as error:
        raise InitialModelError(field, f"{path}: not valid yaml: {error}") from None
    if not isinstance(document, dict):
        raise InitialModelError(field, f"{path}: a model yaml is a mapping with nc, anchors, backbone, head")
    _check_shape(document, field)
    return document


def _check_shape(document: Any, field: str) -> None:
    stack: list[tuple[Any, int]] = [(document, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if depth > MAX_NESTING or count > MAX_VALUES:
            raise InitialModelError(field, f"nested deeper than {MAX_NESTING} or over {MAX_VALUES} values")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _network(point: Point, num_classes: int) -> NetworkSpec:
    values = scaling_values(point)
    scaling = scaling_point_of(values, int(values.pop("input_size")))
    return compound_scale(dataclasses.replace(scaling, num_classes=num_classes)).to_network()


def _fit(space: SearchSpace, point: Point, network: NetworkSpec) -> str | None:
    """None when ``network`` is ``point``'s with multiples the yaml implies (set in ``point``);
    else why not."""
    name = f"{point['arch/family']}-p{point['arch/stages']}"
    base = _network({**point, "arch/depth_multiple": 1.0, "arch/width_multiple": 1.0}, network.num_classes)
    if len(base.layers) != len(network.layers):
        return f"{name} has {len(base.layers)} layers, the yaml {len(network.layers)}"
    parameters = {parameter.name: parameter for parameter in space.parameters()}
    for key, intervals in (("width_multiple", _width_intervals), ("depth_multiple", _depth_intervals)):
        parameter = parameters[f"arch/{key}"]
        low, high = parameter.low or 0.0, parameter.high or 0.0
        bounds = intervals(base, network)
        lower = max((bound[0] for bound in bounds), default=0.0)
        upper = min((bound[1] for bound in bounds), default=math.inf)
        if lower < upper and (upper < low or lower > high):
            return f"its {key} lies in ({lower:.4g}, {upper:.4g}], outside the space's [{low:g}, {high:g}]"
        point[f"arch/{key}"] = _simplest(lower, low, min(upper, high), point[f"arch/{key}"])
    built = _network(point, network.num_classes)
    scale = f"{name} at depth {point['arch/depth_multiple']:g} / width {point['arch/width_multiple']:g}"
    for index, (ours, theirs) in enumerate(zip(built.layers, network.layers, strict=True)):
        if _signature(ours) != _signature(theirs):
            return f"layer {index} differs from {scale} ({_describe(theirs)} where it has {_describe(ours)})"
    if built.backbone_length != network.backbone_length:
        return f"its backbone has {network.backbone_length} layers, {scale}'s {built.backbone_length}"
    return None


def _first_int(layer: LayerSpec) -> int | None:
    if isinstance(layer.args, DetectArgs) or not BLOCKS.get(layer.block).width_scaled:
        return None
    value = getattr(layer.args, dataclasses.fields(layer.args)[0].name)
    return value if isinstance(value, int) else None


def _width_intervals(base: NetworkSpec, network: NetworkSpec) -> list[tuple[float, float]]:
    """Per width-carrying layer, the multiples w with ceil(b·w / 8)·8 = c (b: its width at 1.0)."""
    result = []
    for ours, theirs in zip(base.layers, network.layers, strict=True):
        channels, observed = _first_int(ours), _first_int(theirs)
        if channels and observed and ours.block == theirs.block:
            result.append(((observed - 8) / channels, observed / channels))
    return result


def _depth_intervals(base: NetworkSpec, network: NetworkSpec) -> list[tuple[float, float]]:
    """Per repeated layer (n > 1 at depth 1.0), the multiples d with round(n·d) = r (r ≥ 1; an
    exact half rounds to the even count: banker's rounding)."""
    result = []
    for ours, theirs in zip(base.layers, network.layers, strict=True):
        if ours.repeats > 1 and ours.block == theirs.block:
            even = TIE if theirs.repeats % 2 == 0 else 0.0
            low = 0.0 if theirs.repeats <= 1 else (theirs.repeats - 0.5) / ours.repeats - even
            result.append((low, (theirs.repeats + 0.5) / ours.repeats - (TIE - even)))
    return result


def _simplest(above: float, low: float, upper: float, fallback: Any) -> float:
    """The number of fewest decimals that is over ``above``, at least ``low`` and at most ``upper``
    (0.25, not 0.2497); ``fallback`` when there is none (the layers disagree: the check says where)."""
    start = max(above, low)
    for decimals in range(1, 7):
        step = 10**decimals
        value = math.floor(start * step + 1) / step if start == above else math.ceil(start * step) / step
        if value <= upper:
            return value
    return float(fallback)


def _signature(layer: LayerSpec) -> tuple[Any, ...]:
    if isinstance(layer.args, DetectArgs):  # classes and anchor sizes come from the data
        return (layer.source, layer.block, len(layer.args.anchors), len(layer.args.anchors[0]))
    return (layer.source, layer.repeats, layer.block, layer.args, layer.activation)


def _describe(layer: LayerSpec) -> str:
    if isinstance(layer.args, DetectArgs):
        return f"Detect from {layer.source} with {len(layer.args.anchors[0]) // 2} anchors per level"
    values = [getattr(layer.args, field.name) for field in dataclasses.fields(layer.args)]
    return f"{layer.block} ×{layer.repeats} from {layer.source} {values}"
