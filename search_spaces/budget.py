"""How much a search may spend, and how each trial trains."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from search_spaces.names import NAME_PATTERN, PATH_MAX_LENGTH

# ``training.initial_weights: job:<job_id>`` or ``job:<job_id>/<trial_id>``: an earlier job's weights
JOB_WEIGHTS_PREFIX = "job:"

# How a candidate that starts from ``training.initial_weights`` trains (``TrainingSettings.fine_tune``):
# ``continue`` (the default): where a trained network's schedule ends (lr0 × lrf, no warm-up);
# ``transfer``: the reference's hyp.finetune.yaml as written — lr0 and the usual warm-up — meant for
# the reference's long fine-tunes. Measured on a search's short trials, continue fine-tunes weights
# from another dataset better too (docs/benchmarks.md, "Transfer or continue")
FineTuneSchedule = Literal["continue", "transfer"]
# a trial trains on one GPU or a share of one (a fraction: several trials share a GPU, each on it);
# training one network over several GPUs (data-parallel) is not built, so more is refused
MAX_GPUS_PER_TRIAL = 1
MAX_TRIALS = 100_000  # a job's trial budget, extensions included
MAX_TRIAL_EPOCHS = 100_000_000  # a job's trial-epoch budget, extensions included


class Budget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_trials: int = Field(default=20, ge=1, le=MAX_TRIALS)
    epochs_per_trial: int = Field(default=10, ge=1, le=10_000)
    max_wall_minutes: float | None = Field(default=None, gt=0)
    max_trial_epochs: int | None = Field(default=None, ge=1, le=MAX_TRIAL_EPOCHS)  # over all trials
    max_concurrent_trials: int = Field(default=1, ge=1, le=1024)
    gpus_per_trial: float = Field(default=0, ge=0, le=MAX_GPUS_PER_TRIAL)
    # None: the cluster's CPUs shared among the concurrent trials (workers.search.resources)
    cpus_per_trial: float | None = Field(default=None, gt=0, le=256)
    max_failures_per_trial: int = Field(default=2, ge=0, le=100)  # retries after a crash

    @field_validator("gpus_per_trial", mode="before")
    @classmethod
    def _one_gpu_or_a_share(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_GPUS_PER_TRIAL:
            raise ValueError(
                f"{value:g}: a trial trains on one GPU or a share of one (0 < gpus_per_trial ≤ 1); "
                "training one network over several GPUs is not supported: run trials side by side "
                "instead (max_concurrent_trials)"
            )
        return value


def parse_weights_reference(value: str) -> tuple[str, str | None] | None:
    """``(job_id, trial_id)`` of an ``initial_weights`` value that names an earlier job's weights
    (``trial_id`` None: that job's best front trial), None for a path. A path that begins with
    ``job:`` is written ``./job:…``. Raises ValueError for a ``job:`` form without a job id, with an
    empty trial id or with more than one ``/`` (ids hold no ``/``, so a second one is a mistake)."""
    if not value.startswith(JOB_WEIGHTS_PREFIX):
        return None
    job_id, slash, trial_id = value.removeprefix(JOB_WEIGHTS_PREFIX).partition("/")
    if not job_id:
        raise ValueError(f"{value!r} names no job: write job:<job_id> or job:<job_id>/<trial_id>")
    if slash and (not trial_id or "/" in trial_id):
        raise ValueError(f"{value!r} is not job:<job_id>/<trial_id>: one '/' between the job and a trial id")
    return job_id, trial_id if slash else None


class TrainingSettings(BaseModel):
    """How each trial trains. ``initial_weights``: trained weights every candidate starts from
    instead of random ones, mapped onto its architecture (the same family; ``scaler.weight_map``):
    a released Scaled-YOLOv4 checkpoint or a Scaler export (its folder, its zip or the weights.pt
    in it) on the server, or ``job:<job_id>`` / ``job:<job_id>/<trial_id>`` — an earlier job of the
    same team: its best front trial (highest accuracy) or the trial named. Only the syntax is
    checked here; the service checks that the weights exist, may be read and fit the space.
    ``fine_tune``: how a candidate started from them trains (``FineTuneSchedule``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(default=16, ge=1, le=1024)
    nominal_batch: int = Field(default=64, ge=1, le=4096)
    optimizer: Literal["sgd", "adam"] = "sgd"
    workers: int = Field(default=0, ge=0, le=64)
    cache: bool = False
    initial_weights: str | None = Field(
        default=None, min_length=1, max_length=PATH_MAX_LENGTH, pattern=NAME_PATTERN
    )

    fine_tune: FineTuneSchedule = "continue"

    @field_validator("initial_weights")
    @classmethod
    def _weights_reference(cls, value: str | None) -> str | None:
        if value is not None:
            parse_weights_reference(value)
        return value


class SupernetSettings(BaseModel):
    """Train one weight-sharing supernet over the space and start every candidate from its
    weights: ``epochs`` the supernet trains (0: it is the initial weights, untrained further, which
    needs ``training.initial_weights``), ``fine_tune_epochs`` each candidate then trains on its own
    (0: judged with the supernet's weights as they are), and ``sandwich``: each supernet step also
    trains the smallest and a random subnetwork, so that narrow subnetworks learn too and not only
    the widest one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=10, ge=0, le=10_000)
    fine_tune_epochs: int = Field(default=0, ge=0, le=10_000)
    sandwich: bool = True


class FinalizeSettings(BaseModel):
    """Train the front's networks once more after the search, ``epochs`` each from their starting
    weights: candidates are judged after short trainings, which rank them but do not finish them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(ge=1, le=10_000)


class EvolutionSettings(BaseModel):
    """The reference genetic evolution (spec §7): parents among the best ``top_parents`` (by Pareto
    rank and crowding when several objectives), mutation probability and sigma of the float axes,
    and the probability that a categorical axis (input size, activation, …) moves in a child."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top_parents: int = Field(default=5, ge=1, le=1000)
    parent_selection: Literal["single", "weighted"] = "single"
    mutation_probability: float = Field(default=0.8, gt=0, le=1)
    sigma: float = Field(default=0.2, gt=0, le=2)
    choice_probability: float = Field(default=0.2, ge=0, le=1)
    initial_random: int = Field(default=0, ge=0, le=1000)  # random points before evolving
    # Weight inheritance (Lamarckian evolution): a child starts from its parent's trained weights
    # (overlapping channels and blocks; workers.training.inherit) and trains ``inherited_epochs``
    # without warm-up instead of a whole trial from scratch. The trial-epoch budget counts the
    # epochs a child trains, so the same budget breeds about three times as many children.
    inherit_weights: bool = False
    inherited_epochs: int | None = Field(default=None, ge=1, le=100_000)  # None: a third of a trial

    def child_epochs(self, epochs_per_trial: int) -> int:
        """Epochs an inheriting child trains."""
        if self.inherited_epochs is not None:
            return min(self.inherited_epochs, epochs_per_trial)
        return max(1, -(-epochs_per_trial // 3))


def rung_epochs(grace_period: int, reduction_factor: float, epochs: int) -> list[int]:
    """Successive halving's rungs: grace·η^k finished epochs, below the trial's ``epochs``."""
    rungs: list[int] = []
    milestone = float(grace_period)
    while milestone < epochs:
        if not rungs or round(milestone) > rungs[-1]:
            rungs.append(round(milestone))
        milestone *= reduction_factor
    return rungs


class SchedulerSettings(BaseModel):
    """Successive halving (``asha``, ``moasha``): rungs at grace·η^k epochs.
    ``rung_metric``: what a rung ranks trials by, next to latency: ``accuracy`` (the job's AP
    metric) or ``val_loss`` (the validation loss under the reference's loss settings), which
    already orders candidates while AP is still near zero early in short trials.
    ``lr_schedule``: ``run`` (default) keeps one cosine over the whole trial, as FIFO trials get;
    ``rungs`` restarts the cosine at every rung, so that a trial is judged, and cut, at the end
    of a decayed cycle (measured on CPU: final AP 0.250 → 0.222 over eight candidates, within the
    run-to-run noise, and the AP at the rung no more telling; docs/benchmarks.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grace_period: int = Field(default=1, ge=1)
    reduction_factor: float = Field(default=3, gt=1)
    lr_schedule: Literal["run", "rungs"] = "run"
    rung_metric: Literal["accuracy", "val_loss"] = "accuracy"

    def rungs(self, epochs: int) -> list[int]:
        return rung_epochs(self.grace_period, self.reduction_factor, epochs)
