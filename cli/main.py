"""The ``scaler`` command line. Each command group lives in its own module and imports its
heavy dependencies only when it runs."""

from __future__ import annotations

import click

from cli.admin_commands import team, token
from cli.data_commands import data
from cli.demo_command import demo
from cli.device_commands import devices
from cli.import_command import import_results
from cli.latency_commands import latency
from cli.model_commands import model
from cli.search_command import search
from cli.service_commands import cancel, db, export, extend, jobs, scheduler, serve, submit, usage, watch
from cli.train_command import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scaler")
def cli() -> None:
    """Scaler: find the best speed/accuracy trade-offs of Scaled-YOLOv4 family detectors."""


cli.add_command(model)
cli.add_command(data)
cli.add_command(train)
cli.add_command(search)
cli.add_command(latency)
for command in (
    serve,
    scheduler,
    db,
    submit,
    jobs,
    usage,
    watch,
    export,
    cancel,
    extend,
    import_results,
    demo,
    team,
    token,
    devices,
):
    cli.add_command(command)


def main() -> None:
    cli()
