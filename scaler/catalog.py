"""Resolve what users type (a preset name or a model yaml, plus overrides) to a network spec."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from scaler.errors import SpecError
from scaler.presets import PRESETS
from scaler.scaling.compound import compound_scale
from scaler.spec import NetworkSpec
from scaler.yaml_io import load_model_yaml


def resolve_network(
    name_or_yaml: str,
    *,
    input_size: int | None = None,
    num_classes: int | None = None,
    depth_multiple: float | None = None,
    width_multiple: float | None = None,
    stages: int | None = None,
) -> NetworkSpec:
    """A preset (optionally re-scaled) or a model yaml file (optionally re-multiplied)."""
    if name_or_yaml in PRESETS:
        point = PRESETS[name_or_yaml]
        architecture_changes = {
            key: value
            for key, value in (
                ("depth_multiple", depth_multiple),
                ("width_multiple", width_multiple),
                ("stages", stages),
            )
            if value is not None and value != getattr(point, key)
        }
        changes: dict[str, object] = dict(architecture_changes)
        if architecture_changes:
            changes["name"] = None  # a re-scaled preset is named after its scaling point
        if num_classes is not None:
            changes["num_classes"] = num_classes
        if input_size is not None:
            changes["input_size"] = input_size
        return compound_scale(replace(point, **changes)).to_network()
    path = Path(name_or_yaml)
    if path.suffix not in (".yaml", ".yml"):
        raise SpecError(
            "model", f"{name_or_yaml!r} is neither a preset ({', '.join(PRESETS)}) nor a .yaml file"
        )
    if not path.is_file():
        raise SpecError("model", f"model yaml {name_or_yaml!r} does not exist")
    if stages is not None:
        raise SpecError("stages", "only presets can change their number of stages; edit the yaml instead")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SpecError("model", f"{name_or_yaml}: not valid yaml: {error}") from error
    if not isinstance(document, dict):
        raise SpecError("model", f"{name_or_yaml}: a model yaml must be a mapping")
    if depth_multiple is not None:
        document["depth_multiple"] = depth_multiple
    if width_multiple is not None:
        document["width_multiple"] = width_multiple
    if input_size is not None:
        document["input_size"] = input_size
    return load_model_yaml(document, num_classes=num_classes, name=document.get("name", path.stem))
