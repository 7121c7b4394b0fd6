"""A scaling job: dataset, space, objectives, budget, searcher, scheduler, seed."""

from __future__ import annotations

from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search_spaces.budget import (
    Budget,
    EvolutionSettings,
    FinalizeSettings,
    SchedulerSettings,
    SupernetSettings,
    TrainingSettings,
)
from search_spaces.names import NAME_MAX_LENGTH, NAME_PATTERN
from search_spaces.objectives import Objectives
from search_spaces.space import SearchSpace

SEARCHERS = ("evolve", "nsga2", "tpe", "random")
SCHEDULERS = ("fifo", "asha", "moasha")
WEBHOOK_MAX_LENGTH = 2000


class NotifySettings(BaseModel):
    """Who is told when the job ends: ``webhook``, an http(s) URL the service POSTs the job's end
    to (its id, status, best trial, front size and hypervolume), retried a few times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: str = Field(max_length=WEBHOOK_MAX_LENGTH, pattern=r"^https?://[^\s/?#]+([/?#]\S*)?$")

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError as error:
            raise ValueError(f"not a valid URL: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or not value.isprintable():
            raise ValueError("an http:// or https:// URL with a host, without control characters")
        return value


class JobSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="scaling-job", min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)
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
    supernet: SupernetSettings | None = None
    finalize: FinalizeSettings | None = None
    notify: NotifySettings | None = None

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
        if self.evolution.inherit_weights and self.searcher != "evolve":
            raise ValueError(
                "evolution.inherit_weights: only the evolve searcher breeds children from parents"
            )
        inherited = self.evolution.inherited_epochs
        if inherited is not None and inherited > self.budget.epochs_per_trial:
            raise ValueError("evolution.inherited_epochs: must be at most budget.epochs_per_trial")
        if self.supernet is not None:
            if self.supernet.epochs == 0 and self.training.initial_weights is None:
                raise ValueError(
                    "supernet.epochs: 0 (no supernet training) needs training.initial_weights, "
                    "the weights the supernet then starts from"
                )
            if self.supernet.fine_tune_epochs > self.budget.epochs_per_trial:
                raise ValueError("supernet.fine_tune_epochs: must be at most budget.epochs_per_trial")
            if len(self.space.architecture.family) != 1:
                raise ValueError(
                    "supernet: one supernet shares its weights within one family: search one "
                    "space.architecture.family per job"
                )
        return self

    def mean_trial_epochs(self) -> float:
        """Epochs a trial trains on average: all of them under ``fifo``; under successive halving
        the first rung, then the epochs up to each next milestone (the rungs, then the last epoch)
        times the share 1/η^(k+1) of trials that get there."""
        epochs = self.budget.epochs_per_trial
        if self.scheduler == "fifo":
            return float(epochs)
        milestones = [*self.scheduling.rungs(epochs), epochs]
        eta = self.scheduling.reduction_factor
        mean = float(milestones[0])
        for index, (start, end) in enumerate(pairwise(milestones)):
            mean += (end - start) / eta ** (index + 1)
        return mean

    def expected_trials(self) -> int:
        """How many trials the budget runs: ``max_trials``, or fewer when the trial-epoch budget
        runs out first (wall time is not foreseeable and not counted). Under weight inheritance
        the first ``initial_random`` + 1 trials train from scratch and every later one is a child
        that trains ``evolution.child_epochs``."""
        trials = self.budget.max_trials
        epochs = self.budget.max_trial_epochs
        if epochs is not None:
            mean = self.mean_trial_epochs()
            scratch = self.evolution.initial_random + 1
            if self.evolution.inherit_weights and epochs > scratch * mean:
                child = min(mean, self.evolution.child_epochs(self.budget.epochs_per_trial))
                trials = min(trials, scratch + int((epochs - scratch * mean) / child))
            else:
                trials = min(trials, int(epochs / mean))
        return max(1, trials)

    def with_changes(self, **changes: Any) -> JobSpec:
        """A validated copy with top-level fields replaced (e.g. ``dataset`` given at submit)."""
        return JobSpec.model_validate({**self.model_dump(), **changes})
