"""Where a network's starting weights come from: a released Scaled-YOLOv4 checkpoint, a Scaler
export (its folder, its zip, or the ``weights.pt`` in its folder) or a Scaler training checkpoint
next to its model yaml. ``read_weight_source`` returns the weights *with the structure they
belong to* (the network spec and, when known, the class names), which ``scaler.weight_map`` needs
to map them onto another point of the family.

Every file here is untrusted: weights are read only through ``scaler.checkpoint`` (nothing in a
file can run), yaml only with the safe loader, and a zip only by the three member names an export
writes, each read with a size limit.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from scaler.catalog import resolve_network
from scaler.checkpoint import read_model_checkpoint
from scaler.errors import SpecError
from scaler.presets import PRESETS
from scaler.spec import NetworkSpec
from scaler.weight_map import structure_shapes
from scaler.yaml_io import load_model_yaml

# the 80 COCO class names, in the order the released checkpoints predict them
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
RELEASED = ("yolov4-csp", "yolov4-p5", "yolov4-p6", "yolov4-p7")
EXPORT_MEMBERS = ("model.yaml", "weights.pt", "metrics.json")
MAX_MEMBER_BYTES = 2 * 1024**3  # a P7 in fp32 is about 1.2 GB
MAX_TEXT_BYTES = 1024**2


class WeightSourceError(ValueError):
    """The weights cannot start a network: missing, unreadable, or of an unknown structure."""


@dataclass(frozen=True)
class WeightSource:
    spec: NetworkSpec
    state: dict[str, torch.Tensor]
    class_names: tuple[str, ...] | None
    description: str
    # a supernet trained with sub-networks of its leading channels: slices take those, not the
    # most important ones (``scaler.weight_map``)
    leading_channels: bool = False

    @property
    def family(self) -> str:
        return network_family(self.spec)


def network_family(spec: NetworkSpec) -> str:
    """The compound-scaling family of a network, read from its blocks."""
    blocks = {layer.block for layer in spec.layers}
    if "CSPOSA" in blocks:
        return "tiny"
    if "DarknetCSP" in blocks:
        return "yolov4"
    first_stage = next(
        (layer.block for layer in spec.layers[: spec.backbone_length] if layer.block != "Conv"), ""
    )
    return "csp" if first_stage == "Bottleneck" else "large"


def read_weight_source(path: str | Path) -> WeightSource:
    """The weights at ``path`` with their structure (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _export_folder(path)
    if not path.is_file():
        raise WeightSourceError(f"{path.name}: no such file or folder")
    if zipfile.is_zipfile(path) and _is_export_zip(path):
        return _export_zip(path)
    if (path.parent / "model.yaml").is_file():  # the weights.pt of an export, or a checkpoint beside its yaml
        return _export_folder(path.parent, weights=path)
    return _checkpoint(path)


def _is_export_zip(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    return "model.yaml" in names and "weights.pt" in names


def _export_folder(folder: Path, weights: Path | None = None) -> WeightSource:
    weights = weights or folder / "weights.pt"
    if not weights.is_file():
        raise WeightSourceError(f"{folder.name}: an export folder needs weights.pt")
    spec = _model_yaml((folder / "model.yaml").read_text(), folder.name)
    metrics = folder / "metrics.json"
    names = _class_names(metrics.read_text()) if metrics.is_file() else None
    state = _state(weights)
    return WeightSource(spec, state, names, f"Scaler export {folder.name}")


def _export_zip(path: Path) -> WeightSource:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.getinfo(name) for name in EXPORT_MEMBERS if name in archive.namelist()}
        for name, info in members.items():
            limit = MAX_MEMBER_BYTES if name == "weights.pt" else MAX_TEXT_BYTES
            if info.file_size > limit:
                raise WeightSourceError(f"{path.name}: {name} is larger than {limit} bytes")
        spec = _model_yaml(archive.read(members["model.yaml"]).decode("utf-8", "replace"), path.stem)
        names = (
            _class_names(archive.read(members["metrics.json"]).decode())
            if "metrics.json" in members
            else None
        )
        with tempfile.TemporaryDirectory(prefix="scaler-weights-") as scratch:
            weights = Path(scratch) / "weights.pt"
            with archive.open(members["weights.pt"]) as stream, weights.open("wb") as out:
                copied = 0
                while chunk := stream.read(1 << 20):
                    copied += len(chunk)
                    if copied > MAX_MEMBER_BYTES:
                        raise WeightSourceError(f"{path.name}: weights.pt is larger than declared")
                    out.write(chunk)
            state = _state(weights)
    return WeightSource(spec, state, names, f"Scaler export {path.stem}")


def _model_yaml(text: str, name: str) -> NetworkSpec:
    try:
        document = yaml.safe_load(text)
        return load_model_yaml(
            document, name=(document or {}).get("name", name) if isinstance(document, dict) else name
        )
    except (yaml.YAMLError, SpecError, TypeError) as error:
        raise WeightSourceError(f"{name}: model.yaml is not a model yaml: {error}") from error


def _class_names(text: str) -> tuple[str, ...] | None:
    try:
        names = json.loads(text).get("class_names")
    except (ValueError, AttributeError):
        return None
    return tuple(str(name) for name in names) if isinstance(names, list) else None


def _state(path: Path) -> dict[str, torch.Tensor]:
    checkpoint = _read(path)
    state = _state_of(checkpoint)
    if state is None:
        raise WeightSourceError(
            f"{path.name}: no model weights found (a state dict or a checkpoint with 'model')"
        )
    return state


def _read(path: Path) -> Any:
    try:
        return read_model_checkpoint(path)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise WeightSourceError(f"{path.name}: not a readable checkpoint: {error}") from error


def _model_of(checkpoint: Any) -> Any:
    if isinstance(checkpoint, dict) and any(key in checkpoint for key in ("ema", "model")):
        return checkpoint["ema"] if checkpoint.get("ema") is not None else checkpoint["model"]
    return checkpoint


def _state_of(checkpoint: Any) -> dict[str, torch.Tensor] | None:
    model = _model_of(checkpoint)
    if isinstance(model, nn.Module):
        model = model.state_dict()
    if (
        not isinstance(model, dict)
        or not model
        or not all(isinstance(v, torch.Tensor) for v in model.values())
    ):
        return None
    return {key: value.float() if value.is_floating_point() else value for key, value in model.items()}


def _checkpoint(path: Path) -> WeightSource:
    """A released checkpoint (a pickled reference Model carries its yaml and class names) or a
    bare state dict of a released network (recognised by its tensor shapes)."""
    checkpoint = _read(path)
    state = _state_of(checkpoint)
    if state is None:
        raise WeightSourceError(
            f"{path.name}: no model weights found (a state dict or a checkpoint with 'model')"
        )
    model = _model_of(checkpoint)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model_yaml"), str):  # Scaler's own
        spec = _model_yaml(checkpoint["model_yaml"], path.stem)
        names = checkpoint.get("class_names")
        class_names = tuple(str(name) for name in names) if isinstance(names, list) else None
        leading = checkpoint.get("channel_order") == "leading"
        return WeightSource(spec, state, class_names, f"Scaler weights {path.name}", leading)
    document = getattr(model, "yaml", None) if isinstance(model, nn.Module) else None
    names = getattr(model, "names", None) if isinstance(model, nn.Module) else None
    class_names = tuple(str(name) for name in names) if isinstance(names, list | tuple) else None
    if isinstance(document, dict):
        spec = _model_yaml(yaml.safe_dump(document), path.stem)
        if spec.num_classes == len(COCO_CLASSES) and class_names is None:
            class_names = COCO_CLASSES
        return WeightSource(spec, state, class_names, f"released-format checkpoint {path.name}")
    spec = _released_spec(state)
    if spec is None:
        raise WeightSourceError(
            f"{path.name}: cannot tell which network these weights belong to: give a Scaler export "
            "(model.yaml beside weights.pt) or a checkpoint that carries its model yaml"
        )
    if class_names is None and spec.num_classes == len(COCO_CLASSES):
        class_names = COCO_CLASSES
    return WeightSource(spec, state, class_names, f"{spec.name} weights {path.name}")


def _released_spec(state: dict[str, torch.Tensor]) -> NetworkSpec | None:
    """The released network whose tensor shapes these are (any number of classes)."""
    heads = sorted(key for key in state if key.endswith(".m.0.weight") and state[key].dim() == 4)
    for name in RELEASED:
        point = PRESETS[name]
        anchors = 4 if point.family == "large" else 3
        for key in heads:
            outputs = state[key].shape[0]
            if outputs % anchors or outputs // anchors <= 5:
                continue
            spec = resolve_network(name, num_classes=outputs // anchors - 5)
            if _shapes_match(spec, state):
                return replace(spec, name=name)
    return None


def _shapes_match(spec: NetworkSpec, state: dict[str, torch.Tensor]) -> bool:
    shapes = structure_shapes(spec)
    return shapes.keys() == state.keys() and all(
        tuple(state[k].shape) == shape for k, shape in shapes.items()
    )
