"""A scaling job: dataset, space, objectives, budget, searcher, scheduler, seed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from search_spaces.budget import Budget, EvolutionSettings, SchedulerSettings, TrainingSettings
from search_spaces.objectives import Objectives
from search_spaces.space import SearchSpace

SEARCHERS = ("evolve", "nsga2", "tpe", "random")
SCHEDULERS = ("fifo", "asha", "moasha")


class JobSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="scaling-job", min_length=1, max_length=200)
    dataset: str = ""  # a dataset directory (COCO or YOLO layout); may be given at submit time
    space: SearchSpace = SearchSpace()
    objectives: Objectives = Objectives()
    budget: Budget = Budget()
    training: TrainingSettings = TrainingSettings()
    searcher: str = "evolve"
    scheduler: str = "fifo"
    evolution: EvolutionSettings = EvolutionSettings()
    scheduling: SchedulerSettings = SchedulerSettings()
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    warm_start_from: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _names(self) -> JobSpec:
        if self.searcher not in SEARCHERS:
            raise ValueError(f"searcher: unknown {self.searcher!r}; choose one of {', '.join(SEARCHERS)}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler: unknown {self.scheduler!r}; choose one of {', '.join(SCHEDULERS)}")
        if self.objectives.latency.on_gpu and self.budget.gpus_per_trial < 1:
            raise ValueError("budget.gpus_per_trial: latency on a GPU needs one whole GPU per trial")
        if self.scheduler != "fifo" and self.scheduling.grace_period >= self.budget.epochs_per_trial:
            raise ValueError(
                "scheduling.grace_period: must be below budget.epochs_per_trial for early stopping"
            )
        return self

    def with_changes(self, **changes: Any) -> JobSpec:
        """A validated copy with top-level fields replaced (e.g. ``dataset`` given at submit)."""
        return JobSpec.model_validate({**self.model_dump(), **changes})
