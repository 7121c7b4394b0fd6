"""run_trial as a Ray Tune function trainable: reports every epoch with a checkpoint, and
restores from Tune's checkpoint when a trial is retried or an experiment resumed."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ray import tune

from workers.results import LatencyStats
from workers.training.trainer import EpochResult, Trainer
from workers.trial import TrialConfig, run_trial

CHECKPOINT_FILE = "trainer.pt"


def epoch_metrics(result: EpochResult, trainer: Trainer, latency: LatencyStats) -> dict[str, Any]:
    """The flat metrics Tune sees after each epoch."""
    metrics = result.metrics
    return {
        "epoch": result.epoch,
        "ap": metrics.ap,
        "ap50": metrics.ap50,
        "ap75": metrics.ap75,
        "fitness": metrics.fitness,
        "latency_ms": latency.estimate_ms,
        "latency_spread": latency.spread,
        "latency_p95_ms": latency.p95_ms,
        "params": sum(p.numel() for p in trainer.model.parameters()),
        **{f"loss_{name}": value for name, value in result.losses.items()},
        **{f"val_loss_{name}": value for name, value in result.val_losses.items()},
        "images_per_second": result.images_per_second,
    }


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


def report_epoch(metrics: dict[str, Any], trainer: Trainer) -> None:
    """One Tune report with the trainer's state as the checkpoint to restore from."""
    with tempfile.TemporaryDirectory() as folder:
        trainer.save(Path(folder) / CHECKPOINT_FILE)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def tune_trial(config: dict[str, Any]) -> None:
    """The function trainable; ``config`` is a TrialConfig as a dict."""
    trial = TrialConfig.from_dict(config)
    with restored_trainer_checkpoint() as resume_from:

        def report(result: EpochResult, trainer: Trainer, latency: LatencyStats) -> None:
            metrics = epoch_metrics(result, trainer, latency)
            if resume_from is not None:
                metrics["resumed"] = True
            report_epoch(metrics, trainer)

        outcome = run_trial(trial, on_epoch=report, resume_from=resume_from)
    if outcome.status == "failed":
        raise RuntimeError(outcome.error)  # Tune records the trial as errored, with this reason
    tune.report(
        {
            "final": True,  # ("done" is reserved by Tune)
            "epoch": outcome.epochs - 1,
            "ap": outcome.metrics.ap,
            "ap50": outcome.metrics.ap50,
            "fitness": outcome.metrics.fitness,
            "latency_ms": outcome.latency.estimate_ms if outcome.latency else None,
            "latency_nms_ms": outcome.latency_with_nms.estimate_ms if outcome.latency_with_nms else None,
            "params": outcome.params,
            "gflops": outcome.gflops,
        }
    )
