"""Search spaces and job specs (pydantic, no torch): axes, presets, mutation and sampling of
points, Pareto fronts and hypervolume on objective vectors."""

from search_spaces.budget import (
    JOB_WEIGHTS_PREFIX,
    Budget,
    EvolutionSettings,
    FinalizeSettings,
    SchedulerSettings,
    SupernetSettings,
    TrainingSettings,
    parse_weights_reference,
)
from search_spaces.job import SCHEDULERS, SEARCHERS, JobSpec
from search_spaces.loading import (
    SHORT_RECIPE_PART,
    SpecLoadError,
    load_job_spec,
    parse_job_spec,
    parse_yaml,
    preset_document,
    preset_names,
)
from search_spaces.names import NAME_MAX_LENGTH, NAME_PATTERN, PATH_MAX_LENGTH
from search_spaces.objectives import Constraints, LatencyObjective, Objectives
from search_spaces.parameters import Parameter, Point
from search_spaces.space import ArchitectureSpace, HyperparameterSpace, SearchSpace, scaling_values

__all__ = [
    "JOB_WEIGHTS_PREFIX",
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "PATH_MAX_LENGTH",
    "SCHEDULERS",
    "SEARCHERS",
    "SHORT_RECIPE_PART",
    "ArchitectureSpace",
    "Budget",
    "Constraints",
    "EvolutionSettings",
    "FinalizeSettings",
    "HyperparameterSpace",
    "JobSpec",
    "LatencyObjective",
    "Objectives",
    "Parameter",
    "Point",
    "SchedulerSettings",
    "SearchSpace",
    "SpecLoadError",
    "SupernetSettings",
    "TrainingSettings",
    "load_job_spec",
    "parse_job_spec",
    "parse_weights_reference",
    "parse_yaml",
    "preset_document",
    "preset_names",
    "scaling_values",
]
