"""The trainable of a search: its candidate prepared (``candidate.prepare``: predicted, built, anchors
fitted, timed), trained, reported per epoch.

Each report is a ``TrialReport``: "running" per epoch, then "completed", or a single
"infeasible" (a constraint broken before training: nothing trained) or "failed" (the candidate's
``CandidateError``, the reason in ``error``). A candidate's failure ends the trial normally, so Tune
does not retry a deterministic error; a crash (node lost, process killed) is retried by Tune from
the last epoch's checkpoint, and any other exception is a bug: the trial errors, with its traceback."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch

from search_spaces import JobSpec, Point
from workers.failures import InfeasibleCandidateError, candidate_failure
from workers.results import LatencyStats, TrialReport, TrialStatus
from workers.search.candidate import Candidate, prepare
from workers.search.lineage import Lineage
from workers.search.points import flatten, trial_config
from workers.search.predictor import CONFIG_KEY as PREDICTOR_KEY
from workers.search.predictor import PredictedTooSlowError
from workers.search.resources import trial_threads
from workers.search.supernet import SUPERNET, sub_network_sampler
from workers.training.inherit import save_weights
from workers.training.sandwich import Sandwich
from workers.training.trainer import EpochResult, Trainer
from workers.trial import TrialConfig, run_trial
from workers.tune_trainable import epoch_report, report, report_epoch, restored_trainer_checkpoint


def fine_tuning(config: TrialConfig, weights: str, epochs: int) -> TrialConfig:
    """``config`` started from ``weights`` and fine-tuned ``epochs``: no warm-up, and its learning
    rate starts where a trained network's schedule ends (lr0 × lrf) instead of at lr0 — measured
    (``bench/inherit_probe.py``), a trained network started at lr0 under Adam falls to AP 0 in its
    first epoch and ends its child's epochs below its parent, at lr0 × lrf it ends above."""
    hyp = config.hyp
    return dataclasses.replace(
        config,
        init_weights=weights,
        epochs=epochs,
        restarts=(),
        hyp=hyp.replace(lr0=hyp.lr0 * hyp.lrf, warmup_epochs=0.0),
    )


def inheriting(config: TrialConfig, lineage: Lineage) -> TrialConfig:
    """The trial as its lineage says: a child whose parent's weights are on disk starts from them
    and fine-tunes the child's epochs (``fine_tuning``). Anything else (no parent, or its weights
    gone) trains as asked."""
    source = lineage.inherit_from
    if not source or not Path(source).is_file():
        return config
    return fine_tuning(config, source, int(lineage.epochs or config.epochs))


def starting_weights(
    config: TrialConfig, initial_weights: str | None, schedule: Literal["transfer", "continue"] = "transfer"
) -> TrialConfig:
    """A trial without a parent starts from the job's initial weights, when it has them (its
    hyperparameters already have the reference's fine-tuning file as their base: ``trial_config``),
    and trains by ``schedule`` (``search_spaces.budget.FineTuneSchedule``): ``transfer`` as the
    reference fine-tunes (its lr0 and warm-up: weights from other data have far to move),
    ``continue`` as ``fine_tuning`` (where a trained network's schedule ends)."""
    if config.init_weights or not initial_weights:
        return config
    if schedule == "continue":
        return fine_tuning(config, initial_weights, config.epochs)
    return dataclasses.replace(config, init_weights=initial_weights, restarts=())


def initialised_from(config: TrialConfig, lineage: Lineage, label: str | None) -> str | None:
    """What a trial's weights start from, as its record says it."""
    if not config.init_weights:
        return None
    if config.init_weights == lineage.inherit_from:
        return f"trial:{lineage.parent or Path(config.init_weights).stem}"
    return label or Path(config.init_weights).name


def search_trial(config: dict[str, Any]) -> None:
    """Tune config: {"job": JobSpec as JSON, "arch": {…}, "hyp": {…}, "data_roots": the service's
    data roots or None} and, from a searcher that breeds with weight inheritance, its ``Lineage``
    (``EvolveSearcher._lineage``). Trials reuse their actor (``run_search``): what a trial cached
    on a GPU goes back to the device when it ends, for the next trial in the same process."""
    try:
        _run_trial(config)
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _run_trial(config: dict[str, Any]) -> None:
    spec = JobSpec.model_validate(config["job"])
    torch.set_num_threads(trial_threads(spec))  # train with the CPUs the trial holds, no more
    # Tune's per-epoch checkpoint is the trial's only saved state (what a retry resumes from and
    # export loads): nothing goes into the trial directory, which the driver copies to the run's
    # storage again and again. An image cache, when asked for, lives in scratch for the trial.
    with tempfile.TemporaryDirectory(prefix="scaler-trial-") as scratch:
        try:  # a point whose values cannot train (hyperparameters out of range) is a bad candidate
            base = trial_config(
                spec,
                flatten(config),
                out_dir=scratch if spec.training.cache else None,
                target_device=config.get("target_device"),
            )
        except Exception as error:
            report_failure(error)
            return
        if config.get("latency_cache"):  # the search's measurement cache (``workers.latency_cache``)
            base = dataclasses.replace(
                base, latency=dataclasses.replace(base.latency, cache=config["latency_cache"])
            )
        if config.get("data_roots") is not None:  # a service's search: re-checked where it is read
            base = dataclasses.replace(base, data_roots=tuple(config["data_roots"]))
        lineage = Lineage.from_config(config)
        weights = config.get("initial_weights") or {}
        supernet = config.get("supernet") or {}
        finalist = config.get("finalize") or {}
        trial, label = inheriting(base, lineage), weights.get("label")
        configure: Callable[[Trainer], None] | None = None
        if finalist:  # a front network trained once more from its own weights (``finalize``)
            trial = fine_tuning(base, finalist["path"], int(finalist["epochs"]))
            label = f"trial:{finalist['parent']}"
        elif supernet.get("role") == "slice" and not trial.init_weights:
            trial, label = fine_tuning(trial, supernet["path"], int(supernet["epochs"])), SUPERNET
        else:
            if supernet.get("role") == "train":
                trial = dataclasses.replace(trial, epochs=int(supernet["epochs"]))
                configure = _supernet_training(spec, flatten(config), supernet)
            trial = starting_weights(trial, weights.get("path"), spec.training.fine_tune)
        _search_trial(
            spec,
            trial,
            lineage.save_to,
            initialised_from(trial, lineage, label),
            configure,
            config.get(PREDICTOR_KEY),
        )


def _supernet_training(spec: JobSpec, point: Point, supernet: dict[str, Any]) -> Callable[[Trainer], None]:
    """What makes a trial the job's supernet: the sandwich rule on every step, when asked, and
    its weights saved (with their structure) once it has trained, for the candidates to slice."""

    def configure(trainer: Trainer) -> None:
        if supernet.get("sandwich"):
            smallest, sample = sub_network_sampler(spec, point, trainer.dataset.num_classes)
            trainer.sandwich = Sandwich(trainer.model, smallest, sample, trainer.config.hyp, spec.seed)
        trainer.finished.append(
            lambda: save_weights(
                Path(supernet["save_to"]),
                trainer.ema.ema,
                trainer.dataset.names,
                leading_channels=bool(supernet.get("sandwich")),
            )
        )

    return configure


def report_failure(error: Exception) -> None:
    """Report ``error`` as the candidate's failure when it is one (``workers.failures``); anything
    else is a bug, not the candidate: raised again, Tune records the trial as errored with its
    traceback."""
    failure = candidate_failure(error)
    if failure is None:
        raise error
    report(TrialReport(status=TrialStatus.FAILED, final=True, error=failure))


def _search_trial(
    spec: JobSpec,
    base: TrialConfig,
    save_to: str | None = None,
    initialised: str | None = None,
    configure: Callable[[Trainer], None] | None = None,
    predictor: dict[str, Any] | None = None,
) -> None:
    try:
        candidate = prepare(spec, base, predictor)
    except PredictedTooSlowError as rejected:  # refused unbuilt: nothing was timed or trained
        report(
            TrialReport(
                status=TrialStatus.INFEASIBLE,
                final=True,
                error=str(rejected),
                constraint_violation=rejected.violation,
                latency_predicted_ms=rejected.predicted_ms,
                image_size=base.image_size,
            )
        )
        return
    except Exception as error:
        report_failure(error)
        return
    point = candidate.config.point
    anchors = point.anchors if point is not None else None
    common = TrialReport(
        status=TrialStatus.RUNNING,
        params=candidate.params,
        gflops=candidate.gflops,
        latency_ms=candidate.latency.estimate_ms,
        latency=candidate.latency,
        latency_predicted_ms=candidate.predicted_ms,
        # the objective, in every report from the first epoch, when the objective includes NMS
        latency_nms_ms=candidate.latency_with_nms.estimate_ms if candidate.latency_with_nms else None,
        image_size=candidate.config.image_size,
        anchors=tuple(tuple(level) for level in anchors) if anchors else None,
        anchor_recall_before=candidate.anchor_recall_before,
        anchor_recall_after=candidate.anchor_recall_after,
        threads=torch.get_num_threads(),
        inherited_from=initialised[len("trial:") :]
        if initialised and initialised.startswith("trial:")
        else None,
        initialised_from=initialised,
    )
    try:
        candidate.check_feasible()
    except InfeasibleCandidateError as infeasible:
        report(
            dataclasses.replace(
                common,
                status=TrialStatus.INFEASIBLE,
                final=True,
                error=str(infeasible),
                constraint_violation=infeasible.violation,
            )
        )
        return
    _train(candidate, common, save_to, configure)


def _train(
    candidate: Candidate,
    common: TrialReport,
    save_to: str | None = None,
    configure: Callable[[Trainer], None] | None = None,
) -> None:
    trainers: list[Trainer] = []
    inherited: dict[str, float] = {}

    def configured(trainer: Trainer) -> None:
        trainers.append(trainer)
        if trainer.inheritance is not None:
            inherited["share"] = trainer.inheritance.share
        if configure is not None:
            configure(trainer)

    def reported(**changes: Any) -> TrialReport:
        """The trial's figures measured before training, with this report's."""
        return dataclasses.replace(common, inherited_share=inherited.get("share"), **changes)

    with restored_trainer_checkpoint() as resume_from:

        def on_epoch(result: EpochResult, trainer: Trainer, latency: LatencyStats) -> None:
            if save_to and result.epoch == trainer.config.epochs - 1:  # what children inherit
                save_weights(Path(save_to), trainer.ema.ema, trainer.dataset.names)
            epoch = epoch_report(result, trainer, latency)
            report_epoch(
                reported(
                    epoch=epoch.epoch,
                    ap=epoch.ap,
                    ap50=epoch.ap50,
                    ap75=epoch.ap75,
                    fitness=epoch.fitness,
                    latency_ms=epoch.latency_ms,
                    latency=epoch.latency,
                    params=epoch.params,
                    losses=epoch.losses,
                    val_losses=epoch.val_losses,
                    images_per_second=epoch.images_per_second,
                ),
                trainer,
            )

        outcome = run_trial(
            candidate.config,
            on_epoch=on_epoch,
            resume_from=resume_from,
            network_latency=candidate.latency,
            configure=configured,
        )
    if outcome.status == TrialStatus.COMPLETED:
        for trainer in trainers:
            for finish in trainer.finished:
                finish()
    if outcome.status == TrialStatus.FAILED:
        report(reported(status=TrialStatus.FAILED, final=True, error=outcome.error or "failed"))
        return
    metrics = outcome.metrics
    final = reported(
        status=TrialStatus.COMPLETED,
        final=True,
        epoch=outcome.epochs - 1,
        ap=metrics.ap,
        ap50=metrics.ap50,
        ap75=metrics.ap75,
        fitness=metrics.fitness,
        latency_nms_ms=outcome.latency_with_nms.estimate_ms if outcome.latency_with_nms else None,
        train_seconds=outcome.train_seconds,
    )
    if outcome.epochs == 0 and trainers:  # judged as it started: these weights are what it exports
        report_epoch(final, trainers[-1])
    else:
        report(final)
