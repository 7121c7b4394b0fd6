"""Load job specs from YAML files, presets or mappings; every error names the field."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from search_spaces.job import JobSpec

PRESET_PACKAGE = "search_spaces.presets"
FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+|\[\d+\])*): ")


class SpecLoadError(ValueError):
    """``field`` is the dotted path of the offending entry (e.g. ``space.architecture.stages``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def preset_names() -> list[str]:
    folder = resources.files(PRESET_PACKAGE)
    return sorted(item.name[:-5] for item in folder.iterdir() if item.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise SpecLoadError("preset", f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    return resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text()


def parse_job_spec(values: Any) -> JobSpec:
    """A JobSpec from a parsed JSON/YAML document, typed strictly as JSON is: a number is not a
    string ("3") nor a boolean (true), a boolean is not 1 or "yes"; lists stand for tuples."""
    if not isinstance(values, dict):
        raise SpecLoadError("", f"a job spec is a mapping, got {type(values).__name__}")
    try:
        # through JSON, whatever the source (YAML dates and the like become strings), so that
        # pydantic's strict JSON rules apply to YAML files, presets and request bodies alike
        return JobSpec.model_validate_json(json.dumps(values, default=str), strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch":
            message = "must be printable: no control characters (NUL, newlines, terminal escapes)"
        named = FIELD_PREFIX.match(message)
        if named:  # a model-level check names the field inside the model
            field = f"{field}.{named.group(1)}" if field else named.group(1)
            message = message[named.end() :]
        raise SpecLoadError(field, message) from None


def parse_yaml(text: str) -> JobSpec:
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecLoadError("", f"not valid YAML: {error}") from None
    return parse_job_spec(values or {})


def load_job_spec(source: str | Path, **changes: Any) -> JobSpec:
    """``source``: a preset name (see ``preset_names()``) or a YAML file; ``changes`` replace
    top-level fields (e.g. ``dataset``)."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise SpecLoadError("spec", f"no such file {str(path)!r}")
        text = path.read_text()
    else:
        text = preset_text(str(source))
    spec = parse_yaml(text)
    if changes:
        try:
            return spec.with_changes(**changes)
        except ValidationError:
            return parse_job_spec({**spec.model_dump(), **changes})
    return spec
