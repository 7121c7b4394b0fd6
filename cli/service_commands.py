"""The service and its client: ``serve``, ``scheduler``, ``db upgrade``, ``submit``, ``jobs``,
``watch``, ``export``, ``cancel``."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import click

from api.job_states import FINISHED_STATES, JobState
from cli.client import ApiClient, token_option, url_option
from cli.progress import ProgressPrinter, ProgressState

EVENT_REFRESH_SECONDS = 0.5  # the job's status is read at most this often as its events come


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: runs/scaler.")
@click.option(
    "--data-root",
    "data_roots",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder jobs may read datasets from (repeatable; default: the data dir; SCALER_DATA_ROOTS).",
)
@click.option("--no-scheduler", is_flag=True, help="Serve the API only (run `scaler scheduler` apart).")
def serve(
    host: str, port: int, data_dir: Path | None, data_roots: tuple[Path, ...], no_scheduler: bool
) -> None:
    """The API with its job scheduler, a local Ray per job and a local MLflow store."""

    from api.app import create_app
    from api.serving import serve as serve_app
    from api.settings import get_settings

    settings = get_settings()
    changes: dict[str, Any] = {"run_scheduler": not no_scheduler}
    if data_dir is not None:
        changes["data_dir"] = data_dir
    if data_roots:
        changes["data_roots"] = list(data_roots)
    settings = settings.model_copy(update=changes)

    def announce(app: Any) -> None:  # once the database and the token are set up
        click.echo(f"Scaler API  http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)")
        click.echo(f"database    {settings.resolved_database_url()}")
        click.echo(f"MLflow      {settings.resolved_tracking_uri()}")
        click.echo(f"data roots  {', '.join(str(root) for root in settings.allowed_roots())}")
        token = app.state.created_token
        if token:
            click.echo(f"token       {token}   (export SCALER_TOKEN={token})")
            click.echo(f"dashboard   http://{host}:{port}/dashboard/#token={token}")
        else:
            click.echo(f"dashboard   http://{host}:{port}/dashboard/  (paste your token)")

    app = create_app(settings, on_ready=announce)
    serve_app(app, host, port).run()


@click.command()
def scheduler() -> None:
    """Run the job scheduler as its own process (for deployments with several API replicas)."""
    from api.db.migrate import upgrade
    from api.db.session import make_engine, make_session_factory
    from api.scheduler import JobScheduler
    from api.settings import get_settings

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    engine = make_engine(settings.resolved_database_url())
    runner = JobScheduler(settings, make_session_factory(engine))
    runner.start()
    click.echo(f"scheduler {runner.name} on {settings.resolved_database_url()}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        runner.stop()


@click.group()
def db() -> None:
    """Database migrations."""


@db.command()
def upgrade() -> None:
    """Apply the migrations to SCALER_DATABASE_URL (default: the SQLite file in the data dir)."""
    from api.db.migrate import upgrade as apply
    from api.settings import get_settings

    url = get_settings().resolved_database_url()
    apply(url)
    click.echo(f"database at the latest schema: {url}")


@click.command()
@click.argument("spec_source", metavar="PRESET_OR_YAML")
@click.option("--data", help="Dataset: a server path or a registered dataset id.")
@click.option("--name", help="Job name.")
@click.option("--max-trials", type=click.IntRange(min=1), help="Override budget.max_trials.")
@click.option("--epochs", type=click.IntRange(min=1), help="Override budget.epochs_per_trial.")
@click.option(
    "--initial-weights",
    help="Start every candidate from trained weights: job:JOB_ID[/TRIAL_ID] (an earlier job's best "
    "or named network) or a weights path on the server (sets training.initial_weights).",
)
@click.option("--json", "as_json", is_flag=True)
@url_option
@token_option
def submit(
    spec_source: str,
    data: str | None,
    name: str | None,
    max_trials: int | None,
    epochs: int | None,
    initial_weights: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """Submit a job: a preset name or a job yaml (the same files as `scaler search`)."""
    import yaml

    path = Path(spec_source)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise click.BadParameter(f"no such file {spec_source}", param_hint="PRESET_OR_YAML")
        document = yaml.safe_load(path.read_text()) or {}
    else:
        document = {"preset": spec_source}
    if data is not None:
        document["dataset"] = str(Path(data).resolve()) if Path(data).exists() else data
    if name is not None:
        document["name"] = name
    if initial_weights is not None:
        given = document.get("training") if isinstance(document.get("training"), dict) else {}
        local = Path(initial_weights)
        weights = (
            str(local.resolve())
            if not initial_weights.startswith("job:") and local.exists()
            else initial_weights
        )
        document["training"] = {**given, "initial_weights": weights}
    budget = {"max_trials": max_trials, "epochs_per_trial": epochs}
    if any(value is not None for value in budget.values()):
        given = document.get("budget") if isinstance(document.get("budget"), dict) else {}
        document["budget"] = {**given, **{key: value for key, value in budget.items() if value is not None}}
    created = ApiClient(url, token).json("POST", "/v1/jobs", json=document)
    click.echo(json.dumps(created) if as_json else created["id"])


@click.command()
@click.option("--status", "status_filter", help="queued, running, done, failed or cancelled.")
@click.option("--json", "as_json", is_flag=True)
@url_option
@token_option
def jobs(status_filter: str | None, as_json: bool, url: str, token: str | None) -> None:
    """List your jobs, newest first."""
    params = {"status": status_filter} if status_filter else {}
    listed = ApiClient(url, token).json("GET", "/v1/jobs", params=params)
    if as_json:
        click.echo(json.dumps(listed))
        return
    click.echo(f"{'id':34} {'status':10} {'trials':>9} {'front':>5} {'hypervolume':>12}  name")
    for job in listed["items"]:
        trials = f"{job['trials_finished']}/{job['trials_total']}"
        volume = f"{job['hypervolume']:.5f}" if job["hypervolume"] is not None else "-"
        front = len(job["front"])
        click.echo(f"{job['id']:34} {job['status']:10} {trials:>9} {front:>5} {volume:>12}  {job['name']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@url_option
@token_option
def usage(as_json: bool, url: str, token: str | None) -> None:
    """Your team's compute: GPU-hours and CPU-hours (wall time × devices held by each trial)."""
    found = ApiClient(url, token).json("GET", "/v1/usage")
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo(f"team {found['team']}: {found['jobs']} jobs, {found['trials']} trials")
    click.echo(f"GPU-hours {found['gpu_hours']:.3f}   CPU-hours {found['cpu_hours']:.3f}")
    for status, hours in sorted(found["device_hours_by_status"].items()):
        click.echo(f"  {status:10} {hours:.3f} device-hours")


def started_from(initialised_from: str | None, inherited_share: float | None) -> str:
    """What a trial's weights started from, for a line of output ("" when from scratch)."""
    if not initialised_from:
        return ""
    return f" from {initialised_from} ({inherited_share or 0.0:.0%} inherited)"


def follow(client: ApiClient, job_id: str, interval: float = 2.0, quiet: bool = False) -> dict[str, Any]:
    """Follow a job until it ends, showing its progress (``cli.progress``: bars on a terminal, a
    line per change otherwise): its status is read again as its events come (``cli.job_events``),
    or every ``interval`` seconds when the server does not stream them; the final status."""
    import httpx

    from cli.job_events import JOB_ENDED, StreamUnavailableError, job_events

    printer = None if quiet else ProgressPrinter()

    def current() -> dict[str, Any]:
        job = client.json("GET", f"/v1/jobs/{job_id}")
        if printer is not None:
            printer.show(job_progress(job))
        return job

    try:
        job = current()
        try:
            shown, behind = time.monotonic(), False
            for event in [] if job["status"] in FINISHED_STATES else job_events(client.http, job_id):
                # read again on its end, else at most every EVENT_REFRESH_SECONDS, and when all is
                # quiet (a keep-alive: None) after events it skipped
                ending = event is not None and event.kind == JOB_ENDED
                behind = behind or event is not None
                if ending or (
                    behind and (event is None or time.monotonic() - shown >= EVENT_REFRESH_SECONDS)
                ):
                    job, shown, behind = current(), time.monotonic(), False
        except (StreamUnavailableError, httpx.HTTPError, ValueError, KeyError):
            pass  # no stream, or one that broke off or did not parse: polled instead, below
        while job["status"] not in FINISHED_STATES:
            time.sleep(interval)
            job = current()
        return job
    finally:
        if printer is not None:
            printer.close()


def job_progress(job: dict[str, Any]) -> ProgressState:
    """A job's status as the API serves it, as progress (elapsed: since it started running)."""
    started = job.get("started_at")
    elapsed = 0.0
    if started:
        until = (
            dt.datetime.fromisoformat(job["finished_at"])
            if job.get("finished_at")
            else dt.datetime.now(dt.UTC)
        )
        elapsed = max((until - dt.datetime.fromisoformat(started)).total_seconds(), 0.0)
    return ProgressState(
        status=job["status"],
        trials=job["trials_finished"],
        trials_total=job["trials_total"],
        epochs=job["epochs_used"],
        epochs_total=job["budget_epochs"],
        elapsed_s=elapsed,
        front=len(job["front"]),
        hypervolume=job["hypervolume"],
    )


@click.command()
@click.argument("job_id")
@click.option("--interval", type=float, default=2.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON.")
@url_option
@token_option
def watch(job_id: str, interval: float, as_json: bool, url: str, token: str | None) -> None:
    """Follow a job: progress and the current front, until it ends."""
    client = ApiClient(url, token)
    job = follow(client, job_id, interval, quiet=as_json)
    pareto = client.json("GET", f"/v1/jobs/{job_id}/pareto")
    if as_json:
        click.echo(json.dumps({**job, "pareto": pareto}))
    else:
        for trial in pareto["front"]:
            click.echo(
                f"front {trial['trial_id']}: AP {trial['ap']:.4f} latency {trial['latency_ms'] or 0:.2f} ms"
                + started_from(trial.get("initialised_from"), trial.get("inherited_share"))
            )
        if job["error"]:
            click.echo(f"error: {job['error']}")
    if job["status"] == JobState.FAILED:
        raise SystemExit(1)


@click.command()
@click.argument("job_id")
@click.argument("trial_id")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@url_option
@token_option
def export(job_id: str, trial_id: str, out: Path, url: str, token: str | None) -> None:
    """Download a trial's export zip (model.yaml, hyp.yaml, weights, ONNX, metrics, README.txt)."""
    response = ApiClient(url, token).request("GET", f"/v1/jobs/{job_id}/trials/{trial_id}/export")
    out.write_bytes(response.content)
    click.echo(str(out))


@click.command()
@click.argument("job_id")
@url_option
@token_option
def cancel(job_id: str, url: str, token: str | None) -> None:
    """Cancel a queued or running job."""
    job = ApiClient(url, token).json("POST", f"/v1/jobs/{job_id}/cancel")
    click.echo(f"{job_id}: {'cancelling' if job['cancel_requested'] else job['status']}")


@click.command()
@click.argument("job_id")
@click.option(
    "--trials", type=click.IntRange(min=1), required=True, help="Trials to add to the job's budget."
)
@click.option(
    "--trial-epochs",
    type=click.IntRange(min=1),
    help="Trial-epochs to add to budget.max_trial_epochs (a job whose budget has one).",
)
@url_option
@token_option
def extend(job_id: str, trials: int, trial_epochs: int | None, url: str, token: str | None) -> None:
    """Give a finished job more budget: its search goes on with the same searcher, scheduler and
    weights (`scaler watch JOB` follows it)."""
    body: dict[str, int] = {"trials": trials}
    if trial_epochs is not None:
        body["trial_epochs"] = trial_epochs
    job = ApiClient(url, token).json("POST", f"/v1/jobs/{job_id}/extend", json=body)
    click.echo(f"{job_id}: {job['status']}, budget {job['trials_total']} trials")
