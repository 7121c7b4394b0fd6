"""run_trial as a Ray Tune function trainable: reports every epoch with a checkpoint, and
restores from Tune's checkpoint when a trial is retried or an experiment resumed."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ray import tune

from workers.failures import candidate_failure
from workers.results import LatencyStats, TrialReport, TrialStatus
from workers.training.trainer import EpochResult, Trainer
from workers.trial import TrialConfig, run_trial

CHECKPOINT_FILE = "trainer.pt"


def epoch_report(result: EpochResult, trainer: Trainer, latency: LatencyStats) -> TrialReport:
    """What a trial reports after each epoch (status running)."""
    metrics = result.metrics
    return TrialReport(
        status=TrialStatus.RUNNING,
        epoch=result.epoch,
        ap=metrics.ap,
        ap50=metrics.ap50,
        ap75=metrics.ap75,
        fitness=metrics.fitness,
        latency_ms=latency.estimate_ms,
        latency=latency,
        params=sum(p.numel() for p in trainer.model.parameters()),
        losses=dict(result.losses),
        val_losses=dict(result.val_losses),
        images_per_second=result.images_per_second,
    )


@contextlib.contextmanager
def restored_trainer_checkpoint() -> Iterator[Path | None]:
    """The trainer checkpoint of Tune's restored checkpoint, copied to a scratch file (None on a
    fresh start); removed afterwards."""
    restored = tune.get_checkpoint()
    scratch = Path(tempfile.mkdtemp(prefix="scaler-restore-"))
    try:
        resume_from = None
        if restored is not None:
            with restored.as_directory() as folder:
                resume_from = scratch / CHECKPOINT_FILE
                shutil.copy(Path(folder) / CHECKPOINT_FILE, resume_from)
        yield resume_from
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(trial_report: TrialReport) -> None:
    """One Tune report."""
    tune.report(trial_report.to_metrics())


def report_epoch(trial_report: TrialReport, trainer: Trainer) -> None:
    """One Tune report with the trainer's state as the checkpoint to restore from."""
    with tempfile.TemporaryDirectory() as folder:
        trainer.save(Path(folder) / CHECKPOINT_FILE)
        tune.report(trial_report.to_metrics(), checkpoint=tune.Checkpoint.from_directory(folder))


def tune_trial(config: dict[str, Any]) -> None:
    """The function trainable; ``config`` is a TrialConfig as a dict (``to_dict``). A candidate
    that cannot be set up (an invalid point or hyperparameter) errors the trial with the reason, as
    one that fails while it trains does."""
    try:
        trial = TrialConfig.from_dict(config)
    except Exception as error:
        reason = candidate_failure(error)
        if reason is None:
            raise  # a bug, not the candidate
        raise RuntimeError(reason) from error
    with restored_trainer_checkpoint() as resume_from:

        def on_epoch(result: EpochResult, trainer: Trainer, latency: LatencyStats) -> None:
            epoch = epoch_report(result, trainer, latency)
            report_epoch(dataclasses.replace(epoch, resumed=resume_from is not None), trainer)

        outcome = run_trial(trial, on_epoch=on_epoch, resume_from=resume_from)
    if outcome.status == TrialStatus.FAILED:
        raise RuntimeError(outcome.error)  # Tune records the trial as errored, with this reason
    report(
        TrialReport(
            status=TrialStatus.COMPLETED,
            final=True,
            epoch=outcome.epochs - 1,
            ap=outcome.metrics.ap,
            ap50=outcome.metrics.ap50,
            ap75=outcome.metrics.ap75,
            fitness=outcome.metrics.fitness,
            latency_ms=outcome.latency.estimate_ms if outcome.latency else None,
            latency_nms_ms=outcome.latency_with_nms.estimate_ms if outcome.latency_with_nms else None,
            latency=outcome.latency,
            params=outcome.params,
            gflops=outcome.gflops,
        )
    )
