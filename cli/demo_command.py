"""``scaler demo``: the whole product on one machine — the server with its scheduler, the built-in
dataset, the tiny-cpu-inherit job submitted over REST and watched to its end, the best config exported."""

from __future__ import annotations

import json
import socket
import threading
import time
import zipfile
from pathlib import Path

import click

from api.job_states import JobState


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/demo"),
    show_default=True,
)
@click.option(
    "--preset",
    default="tiny-cpu-inherit",
    show_default=True,
    help="The job-spec preset to submit (GET /v1/presets lists them).",
)
@click.option("--port", type=int, default=None, help="Default: a free port.")
@click.option("--keep-serving", is_flag=True, help="Keep the server (and its dashboard) up until Ctrl-C.")
def demo(data_dir: Path, preset: str, port: int | None, keep_serving: bool) -> None:
    """Serve, write the built-in dataset, submit PRESET, watch it, export the best network."""

    from api.app import create_app
    from api.serving import serve
    from api.settings import Settings
    from cli.client import ApiClient
    from cli.service_commands import follow
    from workers.api import SynthConfig, write_synth_dataset

    data_dir = data_dir.resolve()
    dataset = data_dir / "synth"
    if not (dataset / "dataset.yaml").is_file():
        click.echo(f"writing the built-in dataset to {dataset}", err=True)
        write_synth_dataset(dataset, SynthConfig(images=200, val_images=50, size=256, classes=3, seed=0))
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    token = "demo-" + data_dir.name
    settings = Settings(data_dir=data_dir, token=token, run_scheduler=True)
    server = serve(create_app(settings), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise click.ClickException("the API server did not start")
        time.sleep(0.1)
    click.echo(f"Scaler API {url} (OpenAPI {url}/docs), token {token}", err=True)
    try:
        client = ApiClient(url, token)
        job_id = client.json("POST", "/v1/jobs", json={"preset": preset, "dataset": str(dataset)})["id"]
        click.echo(f"submitted {preset} as job {job_id}", err=True)
        dashboard = f"{url}/dashboard/jobs/{job_id}#token={token}"
        click.echo(f"watch it live: {dashboard}", err=True)
        job = follow(client, job_id, interval=1.0)
        if job["status"] != JobState.DONE:
            raise click.ClickException(f"job {job_id} ended {job['status']}: {job['error']}")
        pareto = client.json("GET", f"/v1/jobs/{job_id}/pareto")
        _print_front(pareto)
        best = max(pareto["front"], key=lambda trial: trial["ap"])
        archive = data_dir / f"best-{job_id}-{best['trial_id']}.zip"
        archive.write_bytes(
            client.request("GET", f"/v1/jobs/{job_id}/trials/{best['trial_id']}/export").content
        )
        with zipfile.ZipFile(archive) as bundle:
            point = json.loads(bundle.read("point.json"))
            names = ", ".join(bundle.namelist())
        click.echo(f"best AP {best['ap']:.4f} at {best['latency_ms']:.2f} ms: {json.dumps(point)}")
        click.echo(f"exported: {archive} ({names})")
        click.echo(f"job status: {url}/v1/jobs/{job_id} (token {token})")
        click.echo(f"MLflow store: {settings.resolved_tracking_uri()}")
        if keep_serving:
            click.echo(f"dashboard: {dashboard}  (Ctrl-C to stop)")
            while thread.is_alive():
                time.sleep(1)
        else:
            click.echo(
                f"dashboard: scaler serve --data-dir {data_dir} --port {port}, then open {dashboard}"
                " (or run the demo with --keep-serving)"
            )
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        thread.join(60)


def _print_front(pareto: dict) -> None:
    click.echo(f"Pareto front of AP vs CPU latency ({len(pareto['front'])} networks):")
    for trial in sorted(pareto["front"], key=lambda trial: trial["latency_ms"] or 0):
        point = trial["point"]
        click.echo(
            f"  {trial['trial_id']}: AP {trial['ap']:.4f} AP50 {trial['ap50']:.4f} "
            f"latency {trial['latency_ms']:.2f} ms "
            f"size {point.get('arch/input_size')} width {point.get('arch/width_multiple')} "
            f"depth {point.get('arch/depth_multiple')} params {trial['params']}"
        )
