"""``scaler import JOB_ID FILE``: results measured outside a job, posted to it
(``POST /v1/jobs/{id}/trials/import``): a JSON or YAML file of them, or a Scaler export (its zip
or folder: the network it holds, as its metrics.json measured it)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import click

from cli.client import ApiClient, token_option, url_option

MAX_FILE_BYTES = 16 * 1024 * 1024  # a results file, or an export's metrics.json
METRICS = "metrics.json"


def read_results(path: Path) -> list[dict[str, Any]]:
    """The results a JSON or YAML file holds: a list of them, or ``{"trials": [...]}``."""
    import yaml

    if path.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        document = yaml.safe_load(path.read_text())  # JSON is YAML
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise click.ClickException(f"{path}: not JSON or YAML: {error}") from None
    results = document.get("trials") if isinstance(document, dict) else document
    if not isinstance(results, list):
        raise click.ClickException(f'{path}: holds no list of results (a list, or {{"trials": [...]}})')
    return results


def export_metrics(path: Path) -> dict[str, Any] | None:
    """The metrics.json of a Scaler export (its zip or folder); None when ``path`` is no export."""
    try:
        if path.is_dir():
            member = path / METRICS
            return json.loads(member.read_text()) if member.is_file() else None
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            if METRICS not in archive.namelist():
                return None
            if archive.getinfo(METRICS).file_size > MAX_FILE_BYTES:
                raise click.ClickException(f"{path}: its {METRICS} is larger than {MAX_FILE_BYTES} bytes")
            return json.loads(archive.read(METRICS))
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # JSONDecodeError is a ValueError
        raise click.ClickException(f"{path}: its {METRICS} cannot be read: {error}") from None


def exported_result(metrics: dict[str, Any], spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The result an export's metrics describe, in the terms of the job ``spec``: the scaling
    parameters and searched hyperparameters of its space, the latency as timed where the export's
    was (a trial's own device named as the job names it)."""
    from search_spaces import JobSpec

    job = JobSpec.model_validate(spec)
    point = metrics.get("point") or {}
    scaling = [parameter.name for parameter in job.space.architecture.parameters()]
    searched = [parameter.name for parameter in job.space.hyperparameters.parameters()]
    stats = metrics.get("latency_stats") or {}
    device = str(stats.get("target") or stats.get("device") or "")
    wanted = job.objectives.latency.device
    result = {
        "point": {name.removeprefix("arch/"): point[name] for name in scaling if name in point},
        "hyperparameters": {name.removeprefix("hyp/"): point[name] for name in searched if name in point},
        "ap": metrics.get("ap"),
        "latency_ms": metrics.get("latency_ms"),
        "device": wanted if device.split(":")[0] == wanted else device,
        "source": f"Scaler export {name}"
        + (f" (trial {metrics['trial_id']})" if metrics.get("trial_id") else ""),
    }
    for key in ("ap50", "latency_nms_ms", "params", "gflops"):
        if metrics.get(key) is not None:
            result[key] = metrics[key]
    return result


@click.command("import")
@click.argument("job_id")
@click.argument("results", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--weights", help="An export's weights on the server (inside its data roots), imported with it."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@url_option
@token_option
def import_results(
    job_id: str, results: Path, weights: str | None, as_json: bool, url: str, token: str | None
) -> None:
    """Import results measured outside job JOB_ID: a JSON or YAML file of them (each a point, its
    hyperparameters, AP, latency and the device it was timed on; docs/service.md), or a Scaler
    export's zip or folder. They join the job's front marked imported, and its searcher learns from
    them when its search starts, resumes or is extended."""
    client = ApiClient(url, token)
    metrics = export_metrics(results)
    if metrics is None:
        if weights is not None:
            raise click.ClickException(
                "--weights goes with an export; a results file names each one's weights"
            )
        entries = read_results(results)
    else:
        spec = client.json("GET", f"/v1/jobs/{job_id}")["spec"]
        entries = [exported_result(metrics, spec, results.name)]
        if weights is not None:
            entries[0]["weights"] = weights
    answer = client.json("POST", f"/v1/jobs/{job_id}/trials/import", json={"trials": entries})
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for trial_id in answer["trial_ids"]:
        click.echo(f"imported  {trial_id}")
    volume = "none" if answer["hypervolume"] is None else f"{answer['hypervolume']:.4g}"
    click.echo(f"front     {len(answer['front'])} trials, hypervolume {volume}")
