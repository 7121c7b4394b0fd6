"""Load job specs from YAML files, presets or mappings; every error names the field."""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from search_spaces.job import JobSpec

PRESET_PACKAGE = "search_spaces.presets"
# a preset file whose name starts with this is a part that presets include (``include:``), not a
# job spec of its own: it is not listed among the presets
PART_PREFIX = "_"
INCLUDE_KEY = "include"
# the short-budget CPU recipe (Adam at batch 8, …) the tiny presets include, `scaler train` and bench use
SHORT_RECIPE_PART = "_short-cpu-recipe"
FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+|\[\d+\])*): ")


class SpecLoadError(ValueError):
    """``field`` is the dotted path of the offending entry (e.g. ``space.architecture.stages``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def preset_file_names(folder: Traversable | None = None) -> list[str]:
    """Every file of the presets folder (or ``folder``), by name without ``.yaml``: the presets
    and their parts."""
    files = folder or resources.files(PRESET_PACKAGE)
    return sorted(item.name[:-5] for item in files.iterdir() if item.name.endswith(".yaml"))


def preset_names() -> list[str]:
    return [name for name in preset_file_names() if not name.startswith(PART_PREFIX)]


def _known_preset(name: str) -> str:
    if name not in preset_names():
        raise SpecLoadError("preset", f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    return name


def preset_document(name: str, folder: Traversable | None = None) -> dict[str, Any]:
    """The mapping of a preset file (a preset or a part, e.g. ``_short-cpu-recipe``) with its
    ``include:`` resolved: the named files of the same folder (a name or a list of names), merged
    in order, then the file's own keys over them; mappings merge key by key, any other value
    replaces. A missing or cyclic include is a ``SpecLoadError`` on ``include``. ``folder``: the
    presets folder unless given."""
    return _resolved_document(name, folder or resources.files(PRESET_PACKAGE), ())


def _resolved_document(name: str, folder: Traversable, chain: tuple[str, ...]) -> dict[str, Any]:
    if name in chain:
        raise SpecLoadError(INCLUDE_KEY, f"a cycle: {' → '.join([*chain, name])}")
    names = preset_file_names(folder)
    if name not in names:
        within = f"{chain[-1]} includes " if chain else ""
        raise SpecLoadError(
            INCLUDE_KEY if chain else "preset",
            f"{within}{name!r}, which is not a preset file; choose one of {', '.join(names)}",
        )
    text = folder.joinpath(f"{name}.yaml").read_text()
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise SpecLoadError("", f"{name}: not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise SpecLoadError("", f"{name}: a preset file is a mapping, got {type(values).__name__}")
    included = values.pop(INCLUDE_KEY, [])
    parts = [included] if isinstance(included, str) else included
    if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
        raise SpecLoadError(INCLUDE_KEY, f"{name}: a preset file's name or a list of them")
    document: dict[str, Any] = {}
    for part in parts:
        document = _merged(document, _resolved_document(part, folder, (*chain, name)))
    return _merged(document, values)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over``'s keys over ``base``'s; mappings under the same key merge the same way."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


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
        spec = parse_yaml(text)
    else:
        spec = parse_job_spec(preset_document(_known_preset(str(source))))
    if changes:
        try:
            return spec.with_changes(**changes)
        except ValidationError:
            return parse_job_spec({**spec.model_dump(), **changes})
    return spec
