"""``scaler search``: run a scaling job on local Ray (or ``RAY_ADDRESS``) with live progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click


class Progress:
    """A line per finished trial (its status, AP, latency, the tallies, front and hypervolume) and
    the search's progress under them (``cli.progress``: bars on a terminal, a line per change
    otherwise), updated at every epoch."""

    def __init__(self, spec: Any, quiet: bool) -> None:
        from cli.progress import ProgressPrinter

        self.spec = spec
        self.quiet = quiet
        self.finished: dict[str, Any] = {}
        self.running: set[str] = set()
        self.epochs: dict[str, int] = {}  # trial id → the epochs it has trained
        self.front = 0
        self.volume = 0.0
        self.started = time.monotonic()
        self.printer = ProgressPrinter()

    def on_trial_result(self, trial: Any) -> None:
        self.running.add(trial.trial_id)
        self.epochs[trial.trial_id] = trial.epochs
        self._show()

    def on_trial_complete(self, trial: Any) -> None:
        from workers.api import TrialStatus, summarise

        self.running.discard(trial.trial_id)
        self.finished[trial.trial_id] = trial
        self.epochs[trial.trial_id] = trial.epochs
        if self.quiet:
            return
        trials = list(self.finished.values())
        front, volume, _, _ = summarise(trials, self.spec.objectives)
        self.front, self.volume = len(front), volume
        counts = {status: sum(t.status == status for t in trials) for status in TrialStatus}
        counts[TrialStatus.RUNNING] = len(self.running)
        tally = " ".join(
            f"{'done' if status is TrialStatus.COMPLETED else status.value} {count}"
            for status, count in counts.items()
            if count or status is not TrialStatus.ERRORED  # a bug's trials: named when there are some
        )
        latency = _latency_cell(trial) + " ms" if trial.latency_ms is not None else "-"
        # the reason's last line: an errored trial's is a traceback, whose last line names the error
        detail = f" ({trial.error.strip().splitlines()[-1]})" if trial.error and trial.error.strip() else ""
        self.printer.message(
            f"[{len(trials)}/{self.spec.budget.max_trials}] trial {trial.trial_id}: {trial.status}{detail} "
            f"AP {trial.ap:.4f} latency {latency} | {tally} | front {len(front)} hypervolume {volume:.5f}"
        )
        self._show()

    def _show(self) -> None:
        from cli.progress import ProgressState

        if self.quiet:
            return
        budget = self.spec.budget
        self.printer.show(
            ProgressState(
                status="running",
                trials=len(self.finished),
                trials_total=budget.max_trials,
                epochs=sum(self.epochs.values()),
                epochs_total=budget.max_trial_epochs or budget.max_trials * budget.epochs_per_trial,
                elapsed_s=time.monotonic() - self.started,
                front=self.front,
                hypervolume=self.volume,
            )
        )

    def close(self) -> None:
        self.printer.close()


@click.command()
@click.argument("spec_source", metavar="PRESET_OR_YAML")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset folder (overrides the spec's).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/search"), show_default=True
)
@click.option("--max-trials", type=click.IntRange(min=1), help="Override budget.max_trials.")
@click.option("--epochs", type=click.IntRange(min=1), help="Override budget.epochs_per_trial.")
@click.option("--searcher", help="Override the searcher (evolve, nsga2, tpe, random).")
@click.option("--scheduler", help="Override the scheduler (fifo, asha, moasha).")
@click.option("--tracking-uri", help="MLflow tracking URI (default: a SQLite store under --out).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the search in --out: an interrupted one, or a finished one given a larger --max-trials.",
)
@click.option(
    "--initial-weights",
    type=click.Path(exists=True, path_type=Path),
    help="Start every candidate from these trained weights: a released checkpoint, a Scaler export "
    "(folder, zip or its weights.pt) or a supernet's weights.pt (sets training.initial_weights).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results at the end.")
def search(
    spec_source: str,
    data: Path | None,
    out: Path,
    max_trials: int | None,
    epochs: int | None,
    searcher: str | None,
    scheduler: str | None,
    tracking_uri: str | None,
    resume: bool,
    initial_weights: Path | None,
    as_json: bool,
) -> None:
    """Search the space of PRESET_OR_YAML (a preset name such as tiny-cpu, or a job yaml)."""
    from search_spaces import SpecLoadError, load_job_spec, parse_job_spec, parse_weights_reference

    try:
        spec = load_job_spec(spec_source)
        document = spec.model_dump()
        if data is not None:
            document["dataset"] = str(data.resolve())
        for key, value in (("max_trials", max_trials), ("epochs_per_trial", epochs)):
            if value is not None:
                document["budget"][key] = value
        for key, value in (("searcher", searcher), ("scheduler", scheduler)):
            if value is not None:
                document[key] = value
        if initial_weights is not None:
            document["training"]["initial_weights"] = str(initial_weights.resolve())
        spec = parse_job_spec(document)
    except SpecLoadError as error:
        raise click.BadParameter(str(error), param_hint="PRESET_OR_YAML") from None
    reference = spec.training.initial_weights
    if reference and parse_weights_reference(reference) is not None:
        raise click.BadParameter(
            f"{reference}: an earlier job's weights are the service's: `scaler submit … --initial-weights "
            f"{reference}`, or give a weights file",
            param_hint="--initial-weights",
        )
    if not spec.dataset:
        raise click.BadParameter("the spec names no dataset: give --data DIR", param_hint="--data")
    from workers.api import DatasetError, open_dataset

    try:
        open_dataset(spec.dataset)
    except DatasetError as error:
        raise click.BadParameter(str(error), param_hint="--data") from None
    from workers.api import run_search

    progress = Progress(spec, quiet=False)
    try:
        result = run_search(spec, out, callbacks=[progress], tracking_uri=tracking_uri, resume=resume)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(_document(result), default=str))
        return
    _print_front(result, spec)


def _unstable(trial: Any) -> bool:
    from workers.api import UNSTABLE_SPREAD

    return trial.latency_spread is not None and trial.latency_spread > UNSTABLE_SPREAD


def _latency_cell(trial: Any) -> str:
    """The latency, starred when its timing was flagged unstable."""
    return f"{trial.latency_ms or 0:.2f}" + ("*" if _unstable(trial) else "")


def _document(result: Any) -> dict[str, Any]:
    return {
        "trials": [
            {
                "trial_id": t.trial_id,
                "config": t.point,
                "status": str(t.status),
                "ap": t.ap,
                "ap50": t.ap50,
                "latency_ms": t.latency_ms,
                "latency_spread": t.latency_spread,
                "inherited_from": t.inherited_from,
                "initialised_from": t.initialised_from,
                "inherited_share": t.inherited_share,
                "params": t.params,
                "gflops": t.gflops,
                "epochs": t.epochs,
                "error": t.error,
            }
            for t in result.trials
        ],
        "front": list(result.front),
        "hypervolume": result.hypervolume,
        "mlflow_run_id": result.mlflow_run_id,
        "export_dir": result.export_dir,
    }


def _print_front(result: Any, spec: Any) -> None:
    from cli.service_commands import started_from

    by_id = {trial.trial_id: trial for trial in result.trials}
    click.echo(
        f"Pareto front ({len(result.front)} of {len(result.trials)} trials), "
        f"hypervolume {result.hypervolume:.5f}"
    )
    header = ("trial", "AP", "AP50", "latency ms", "params", "GFLOPs", "size", "width", "depth")
    click.echo("".join(f"{name:>11}" for name in header))
    for trial_id in result.front:
        t = by_id[trial_id]
        point = t.point
        cells = (
            trial_id,
            f"{t.ap:.4f}",
            f"{t.ap50:.4f}",
            _latency_cell(t),
            t.params or 0,
            f"{t.gflops or 0:.3f}",
            point.get("arch/input_size", "-"),
            point.get("arch/width_multiple", "-"),
            point.get("arch/depth_multiple", "-"),
        )
        click.echo(
            "".join(f"{cell!s:>11}" for cell in cells) + started_from(t.initialised_from, t.inherited_share)
        )
    if any(_unstable(by_id[trial_id]) for trial_id in result.front):
        click.echo("* latency timed while the machine was busy (round medians > 1.25× apart)")
    click.echo(f"exported configs: {result.export_dir}")
    click.echo(f"MLflow parent run: {result.mlflow_run_id}")
    sys.stdout.flush()
