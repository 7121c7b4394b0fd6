"""Search spaces and job specs (pydantic, no torch): axes, presets, mutation and sampling of
points, Pareto fronts and hypervolume on objective vectors."""

from search_spaces.budget import Budget, EvolutionSettings, SchedulerSettings, TrainingSettings
from search_spaces.job import NAME_MAX_LENGTH, NAME_PATTERN, SCHEDULERS, SEARCHERS, JobSpec
from search_spaces.loading import SpecLoadError, load_job_spec, parse_job_spec, parse_yaml, preset_names
from search_spaces.objectives import Constraints, LatencyObjective, Objectives
from search_spaces.parameters import Parameter, Point
from search_spaces.space import ArchitectureSpace, HyperparameterSpace, SearchSpace, scaling_values

__all__ = [
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "SCHEDULERS",
    "SEARCHERS",
    "ArchitectureSpace",
    "Budget",
    "Constraints",
    "EvolutionSettings",
    "HyperparameterSpace",
    "JobSpec",
    "LatencyObjective",
    "Objectives",
    "Parameter",
    "Point",
    "SchedulerSettings",
    "SearchSpace",
    "SpecLoadError",
    "TrainingSettings",
    "load_job_spec",
    "parse_job_spec",
    "parse_yaml",
    "preset_names",
    "scaling_values",
]
