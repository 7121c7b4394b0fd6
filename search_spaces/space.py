"""The search space: architecture axes (the paper's compound-scaling coordinates) and
hyperparameter axes (the reference evolution's meta table), flattened into ``Parameter``s."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search_spaces.hyp_meta import AUGMENTATION_KEYS, HYP_DEFAULTS, HYP_META
from search_spaces.names import NAME_PATTERN, PATH_MAX_LENGTH
from search_spaces.parameters import Parameter, Point, Value

# Kept in step with scaler.scaling.point by a test (search_spaces does not import the scaler).
FAMILIES = ("large", "csp", "tiny", "yolov4")
FIXED_LAYOUT_FAMILIES = ("tiny", "yolov4")
ACTIVATIONS = ("mish", "leaky", "silu", "relu", "linear")
MIN_STAGES, MAX_STAGES = 4, 8
MAX_DEPTH_EXPONENT = 8
# an initial point that names a model yaml (``{model: PATH}``): the yaml gives its architecture,
# ``workers.search.initial_models`` turns it into the point it describes; the entry may name
# only these parameters beside it
MODEL_KEY = "model"
MODEL_ENTRY_PARAMETERS = ("arch/input_size",)  # and every ``hyp/`` one


class Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    low: float = Field(gt=0)
    high: float = Field(gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class ArchitectureSpace(BaseModel):
    """``depth_exponents``: per stage, the allowed exponents ds (2^ds − 1 residual layers, paper
    §4.3); a point with fewer stages uses the first ones. Without it, ``depth_multiple`` scales the
    family's released depths."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: tuple[str, ...] = ("large",)
    input_size: tuple[int, ...] = (640,)
    stages: tuple[int, ...] = (5,)
    depth_exponents: tuple[tuple[int, ...], ...] | None = None
    depth_multiple: Range = Range(low=1.0, high=1.0)
    width_multiple: Range = Range(low=1.0, high=1.0)
    activation: tuple[str, ...] = ("mish",)

    @field_validator("family")
    @classmethod
    def _families(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, FAMILIES, "family")

    @field_validator("activation")
    @classmethod
    def _activations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, ACTIVATIONS, "activation")

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("needs at least one choice")
        for stages in value:
            if not MIN_STAGES <= stages <= MAX_STAGES:
                raise ValueError(f"{stages} is outside [{MIN_STAGES}, {MAX_STAGES}]")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ArchitectureSpace:
        if not self.input_size:
            raise ValueError("input_size: needs at least one choice")
        stride = 2 ** max(self.stages)
        for size in self.input_size:
            if size <= 0 or size % stride:
                raise ValueError(
                    f"input_size: {size} is not a positive multiple of {stride}, the largest stride "
                    f"of {max(self.stages)} stages"
                )
        if any(family in FIXED_LAYOUT_FAMILIES for family in self.family) and self.stages != (5,):
            raise ValueError("stages: the tiny and yolov4 families have a fixed layout with 5 stages")
        if self.depth_exponents is not None:
            if len(self.depth_exponents) < max(self.stages):
                raise ValueError(
                    f"depth_exponents: needs choices for each of {max(self.stages)} stages, "
                    f"got {len(self.depth_exponents)}"
                )
            for index, choices in enumerate(self.depth_exponents):
                if not choices or any(not 0 <= ds <= MAX_DEPTH_EXPONENT for ds in choices):
                    raise ValueError(
                        f"depth_exponents[{index}]: needs exponents in [0, {MAX_DEPTH_EXPONENT}]"
                    )
        return self

    def parameters(self) -> list[Parameter]:
        result = [
            Parameter(name="arch/family", kind="choice", choices=self.family),
            Parameter(name="arch/input_size", kind="choice", choices=self.input_size),
            Parameter(name="arch/stages", kind="choice", choices=self.stages),
        ]
        if self.depth_exponents is not None:
            result += [
                Parameter(name=f"arch/depth_exponent_{index}", kind="choice", choices=choices)
                for index, choices in enumerate(self.depth_exponents[: max(self.stages)])
            ]
        for name in ("depth_multiple", "width_multiple"):
            axis: Range = getattr(self, name)
            result.append(
                Parameter(name=f"arch/{name}", kind="float", low=axis.low, high=axis.high, log=axis.log)
            )
        result.append(Parameter(name="arch/activation", kind="choice", choices=self.activation))
        return result


def _check_model_entry(point: dict[str, Value], index: int) -> None:
    path = point[MODEL_KEY]
    if (
        not isinstance(path, str)
        or not path
        or len(path) > PATH_MAX_LENGTH
        or not re.match(NAME_PATTERN, path)
    ):
        raise ValueError(
            f"initial_points[{index}].{MODEL_KEY}: a path to a model yaml of at most {PATH_MAX_LENGTH} "
            "characters, without control characters"
        )
    for name in point:
        if name != MODEL_KEY and name not in MODEL_ENTRY_PARAMETERS and not name.startswith("hyp/"):
            raise ValueError(
                f"initial_points[{index}]: {name} is set by the model yaml; beside {MODEL_KEY} an entry "
                f"names only {', '.join(MODEL_ENTRY_PARAMETERS)} and hyp/ parameters"
            )


def _known(value: tuple[str, ...], known: tuple[str, ...], field: str) -> tuple[str, ...]:
    if not value:
        raise ValueError("needs at least one choice")
    for item in value:
        if item not in known:
            raise ValueError(f"unknown {field} {item!r}; choose from {', '.join(known)}")
    return value


class HypAxis(BaseModel):
    """Overrides of the meta table for one key: mutation gain and limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gain: float | None = Field(default=None, ge=0)
    lower: float | None = None
    upper: float | None = None
    log: bool = False  # sample log-uniformly (random and Optuna searchers)


class HyperparameterSpace(BaseModel):
    """``base``: fixed values (over the training defaults); ``search``: the keys to search, as a
    list or a mapping to meta overrides; ``augmentation``: search every augmentation strength too
    (``AUGMENTATION_KEYS``, with the meta table's limits; a strength also listed in ``search``
    keeps that entry's overrides); ``anchors``: fit anchors to the data before each trial."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: dict[str, float] = Field(default_factory=dict)
    search: dict[str, HypAxis] = Field(default_factory=dict)
    augmentation: bool = False
    anchors: bool = True

    @field_validator("search", mode="before")
    @classmethod
    def _list_of_keys(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {key: {} for key in value}
        if isinstance(value, dict):
            return {key: ({} if axis is None else axis) for key, axis in value.items()}
        return {} if value is None else value  # anything else: refused as not a mapping

    @field_validator("base", "search")
    @classmethod
    def _known_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key not in HYP_META:
                raise ValueError(f"unknown hyperparameter {key!r}; known: {', '.join(HYP_META)}")
        return value

    @model_validator(mode="after")
    def _limits(self) -> HyperparameterSpace:
        for parameter in self.parameters():
            assert parameter.low is not None and parameter.high is not None
            key = parameter.name[4:]
            if parameter.low > parameter.high:
                raise ValueError(f"search.{key}: lower is above upper")
            if parameter.log and parameter.low <= 0:
                raise ValueError(f"search.{key}: a log axis needs lower > 0")
            if not parameter.low <= float(self.value(key)) <= parameter.high:
                searched_by = (
                    "search limits" if key in self.search else "meta table's limits (augmentation: true)"
                )
                raise ValueError(
                    f"base.{key}: {self.value(key)} is outside the {searched_by} "
                    f"[{parameter.low}, {parameter.high}]"
                )
        return self

    def value(self, key: str) -> float:
        return self.base.get(key, HYP_DEFAULTS[key])

    def searched(self) -> dict[str, HypAxis]:
        """Every key searched with its overrides: ``search``, then (``augmentation``) each
        augmentation strength it does not list, with none."""
        if not self.augmentation:
            return dict(self.search)
        return {**self.search, **{key: HypAxis() for key in AUGMENTATION_KEYS if key not in self.search}}

    def gain(self, key: str, axis: HypAxis) -> float:
        """The mutation gain of ``key``: its override, else the meta table's. Under ``augmentation``
        a strength the reference freezes (gain 0: perspective, fliplr) evolves at the gain the table
        gives the strengths it does evolve: a job that asks for augmentation asks for all of it.
        An explicit ``gain: 0`` in ``search`` still freezes one."""
        if axis.gain is not None:
            return axis.gain
        gain = HYP_META[key].gain
        if self.augmentation and key in AUGMENTATION_KEYS and gain == 0:
            return max(HYP_META[strength].gain for strength in AUGMENTATION_KEYS)
        return gain

    def parameters(self) -> list[Parameter]:
        result = []
        for key, axis in self.searched().items():
            meta = HYP_META[key]
            low = meta.lower if axis.lower is None else axis.lower
            high = meta.upper if axis.upper is None else axis.upper
            result.append(
                Parameter.model_construct(
                    name=f"hyp/{key}",
                    kind="float",
                    choices=(),
                    low=low,
                    high=high,
                    log=axis.log,
                    gain=self.gain(key, axis),
                    default=self.value(key),
                )
            )
        return result


class SearchSpace(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    architecture: ArchitectureSpace = ArchitectureSpace()
    hyperparameters: HyperparameterSpace = HyperparameterSpace()
    # user-written candidates the searcher evaluates first (before any point of its own): each
    # names some parameters of this space by their flat names (``arch/input_size``, ``hyp/lr0``);
    # the others take the space's defaults. Or ``{model: PATH}`` (a model yaml) with at most the
    # input size and hyperparameters: the point the yaml's network is (resolved by the workers)
    initial_points: tuple[dict[str, Value], ...] = Field(default=(), max_length=1000)

    @model_validator(mode="after")
    def _initial_points_lie_in_the_space(self) -> SearchSpace:
        parameters = {parameter.name: parameter for parameter in self.parameters()}
        for index, point in enumerate(self.initial_points):
            if MODEL_KEY in point:
                _check_model_entry(point, index)
            for name, value in point.items():
                parameter = parameters.get(name)
                if name == MODEL_KEY:
                    continue
                if parameter is None:
                    raise ValueError(
                        f"initial_points[{index}]: {name!r} is not a parameter of this space "
                        f"(one of {', '.join(parameters)})"
                    )
                if parameter.kind == "choice":
                    if value not in parameter.choices:
                        choices = list(parameter.choices)
                        raise ValueError(f"initial_points[{index}]: {name} {value!r} is not one of {choices}")
                elif isinstance(value, str) or not (parameter.low or 0) <= float(value) <= (
                    parameter.high or 0
                ):
                    raise ValueError(
                        f"initial_points[{index}]: {name} {value!r} is outside "
                        f"[{parameter.low:g}, {parameter.high:g}]"
                    )
        return self

    def model_entries(self) -> list[tuple[int, dict[str, Value]]]:
        """The ``initial_points`` that name a model yaml, with their index."""
        return [(index, point) for index, point in enumerate(self.initial_points) if MODEL_KEY in point]

    def parameters(self) -> list[Parameter]:
        return [*self.architecture.parameters(), *self.hyperparameters.parameters()]

    def initial_candidates(self) -> list[Point]:
        """``initial_points`` as whole points: the space's defaults under the values each names.
        Model entries must have been resolved to points first (``workers.search.initial_models``)."""
        if self.model_entries():
            index = self.model_entries()[0][0]
            raise ValueError(f"initial_points[{index}] names a model yaml: resolve it to its point first")
        return [{**self.default_point(), **point} for point in self.initial_points]

    def default_point(self) -> Point:
        return {parameter.name: parameter.initial() for parameter in self.parameters()}

    def hyp_values(self, point: Point) -> dict[str, float]:
        """The full set of hyperparameter values at ``point``: base, then the searched keys."""
        values = dict(self.hyperparameters.base)
        values.update({name[4:]: float(value) for name, value in point.items() if name.startswith("hyp/")})
        return values


def scaling_values(point: Point) -> dict[str, Any]:
    """The ScalingPoint fields at ``point`` (input size included; classes come from the data)."""
    values: dict[str, Any] = {
        name[5:]: value
        for name, value in point.items()
        if name.startswith("arch/") and not name.startswith("arch/depth_exponent_")
    }
    stages = int(values.get("stages", 5))
    exponents = [
        point[f"arch/depth_exponent_{index}"]
        for index in range(stages)
        if f"arch/depth_exponent_{index}" in point
    ]
    if len(exponents) == stages and values.get("family", "large") not in FIXED_LAYOUT_FAMILIES:
        values["depth_exponents"] = tuple(int(value) for value in exponents)
    return values
