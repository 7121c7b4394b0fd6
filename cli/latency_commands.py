"""``scaler latency …``: calibrate a latency model for a device, predict a network's latency from
its shapes, and measure it for real (``workers.latency_model``). MODEL_OR_POINT is what ``scaler
model show`` takes: a preset or a model yaml, with ``--depth-multiple``, ``--width-multiple``,
``--stages``, ``--img``. Timing happens on this machine: run the commands where the device is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.model_commands import _build, _model_options, _spec_errors

DEVICE_HELP = "cpu, cuda, cuda:N or a preset target device (scaler devices list)."


def _target(device: str, threads: int | None, rounds: int = 3) -> tuple[Any, str]:
    from workers.api import local_target

    try:
        return local_target(device, threads, rounds)
    except ValueError as error:
        raise click.BadParameter(str(error).removeprefix("device: "), param_hint="--device") from error


def _device_options(command: Any) -> Any:
    command = click.option(
        "--threads", type=click.IntRange(min=1), default=None, help="CPU threads (cpu only)."
    )(command)
    return click.option("--device", required=True, help=DEVICE_HELP)(command)


@click.group()
def latency() -> None:
    """Latency models per device: calibrate, predict, measure."""


@latency.command()
@_device_options
@click.option("--space", "spaces", multiple=True, default=("tiny-cpu",), show_default=True,
              help="Preset whose architecture space the networks are drawn from (repeatable).")  # fmt: skip
@click.option("--networks", type=click.IntRange(min=10, max=2000), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to store the model (default: the models folder, by setting).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def calibrate(
    device: str, threads: int | None, spaces: tuple[str, ...], networks: int, seed: int, output: Path | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Time networks drawn from the spaces on DEVICE and fit its latency model."""
    from search_spaces import load_job_spec
    from search_spaces.loading import SpecLoadError
    from workers.api import fit, graph_rules, model_path, space_networks, timed_samples

    target, setting = _target(device, threads)
    drawn = []
    for index, name in enumerate(spaces):
        try:
            space = load_job_spec(name).space.architecture
        except (SpecLoadError, OSError) as error:
            raise click.BadParameter(str(error), param_hint="--space") from error
        share = networks // len(spaces) + (1 if index < networks % len(spaces) else 0)
        drawn += space_networks(space, share, seed + index)
    with click.progressbar(drawn, label=f"timing {len(drawn)} networks on {device}", file=None) as bar:
        samples = timed_samples(list(bar), target.measure, target.batch, graph_rules(target.runtime))
    model = fit(setting, samples, graph_rules(target.runtime))
    path = model.save(output or model_path(setting))
    errors = [abs(error) for error in model.relative_errors]
    within = sum(error <= 0.10 for error in errors) / len(errors) if errors else 0.0
    summary = {"setting": setting, "path": str(path), "networks": len(samples), "loo_within_10pct": within}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(
            f"{setting}: {len(samples)} networks, {within:.0%} of leave-one-out predictions within ±10 %"
        )
        click.echo(f"model: {path}")


@latency.command()
@click.argument("name_or_yaml")
@_model_options
@_device_options
@click.option("--model-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A model calibrate wrote (default: the device's in the models folder).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@_spec_errors
def predict(
    name_or_yaml: str,
    device: str,
    threads: int | None,
    model_file: Path | None,
    as_json: bool,
    **overrides: Any,
) -> None:
    """Predict a network's latency on DEVICE from its shapes (nothing is run)."""
    from scaler.latency_features import latency_features
    from workers.api import LatencyModel, graph_rules, load_model

    target, setting = _target(device, threads)
    if model_file is not None:
        model = LatencyModel.from_dict(json.loads(model_file.read_text()))
    else:
        model = load_model(setting)
    if model is None:
        raise click.UsageError(
            f"no latency model for {setting}: run scaler latency calibrate --device {device}"
        )
    rules = graph_rules(target.runtime)
    if model.graph != rules.name:
        raise click.UsageError(
            f"the model of {model.setting} counts the {model.graph} graph, {target.runtime} runs the "
            f"{rules.name} one: run scaler latency calibrate --device {device}"
        )
    network = _build(name_or_yaml, **overrides)
    size = network.spec.input_size
    prediction = model.predict(latency_features(network, size, target.batch, rules))
    document = {**prediction.to_dict(), "setting": model.setting, "input_size": size}
    if as_json:
        click.echo(json.dumps(document))
    else:
        low, high = prediction.interval_ms
        click.echo(f"{prediction.predicted_ms:.2f} ms predicted ({low:.2f}–{high:.2f}) on {model.setting}")


@latency.command()
@click.argument("name_or_yaml")
@_model_options
@_device_options
@click.option("--rounds", type=click.IntRange(min=1, max=100), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_spec_errors
def measure(
    name_or_yaml: str, device: str, threads: int | None, rounds: int, as_json: bool, **overrides: Any
) -> None:
    """Time a network on DEVICE for real (this machine)."""
    target, setting = _target(device, threads, rounds)
    network = _build(name_or_yaml, **overrides)
    stats = target.measure(network, network.spec.input_size)
    document = {
        "median_ms": stats.estimate_ms,
        "p95_ms": stats.p95_ms,
        "spread": stats.spread,
        "setting": setting,
        "input_size": stats.input_size,
        "threads": stats.threads,
    }
    if as_json:
        click.echo(json.dumps(document))
    else:
        click.echo(
            f"{stats.estimate_ms:.2f} ms median, {stats.p95_ms:.2f} ms p95 (spread ×{stats.spread:.2f})"
        )
