"""``scaler devices list|add``: the server's target devices, over its API (``/v1/devices``). A job
names one in ``objectives.latency.device``; the Ray nodes that hold it carry ``device:<name>``."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.client import ApiClient, token_option, url_option

# the choices of search_spaces.devices (not imported: the CLI starts without pydantic's models)
KINDS = ("cpu", "cuda")
RUNTIMES = ("torch", "torch-compile", "onnxruntime", "tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")


@click.group()
def devices() -> None:
    """Target devices: where networks are timed, in which runtime and precision."""


def describe(device: dict[str, Any]) -> str:
    """One line of ``devices list``: name, where it comes from, kind, runtime, precision, batch,
    threads and the description."""
    threads = device["threads"] if device["threads"] is not None else "-"
    origin = "preset" if device["preset"] else "registered"
    return (
        f"{device['name']:24} {origin:10} {device['kind']:4} {device['runtime']:13} "
        f"{device['precision']:9} {device['batch']:>5} {threads!s:>7}  {device['description']}"
    )


@devices.command("list")
@click.option("--json", "as_json", is_flag=True)
@url_option
@token_option
def list_devices(as_json: bool, url: str, token: str | None) -> None:
    """Every device a job may name: the presets and those registered with the server."""
    found = ApiClient(url, token).json("GET", "/v1/devices")
    if as_json:
        click.echo(json.dumps(found))
        return
    header = (
        f"{'name':24} {'origin':10} {'kind':4} {'runtime':13} {'precision':9} {'batch':>5} {'threads':>7}"
    )
    click.echo(f"{header}  description")
    for device in found:
        click.echo(describe(device))


@devices.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the device is.")
@click.option(
    "--runtime",
    type=click.Choice(RUNTIMES),
    default="torch",
    show_default=True,
    help="What runs the network.",
)
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True)
@click.option("--batch", type=click.IntRange(1, 256), default=1, show_default=True, help="Images per call.")
@click.option("--threads", type=click.IntRange(1, 256), help="CPU threads (cpu devices; default: all given).")
@click.option("--description", default="", help="What and where the device is.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered device as JSON.")
@url_option
@token_option
def add_device(
    name: str,
    kind: str,
    runtime: str,
    precision: str,
    batch: int,
    threads: int | None,
    description: str,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """Register a target device NAME (an admin token). Start the Ray nodes that hold it with
    ``ray start … --resources '{"device:NAME": 1}'``."""
    body = {
        "name": name,
        "kind": kind,
        "runtime": runtime,
        "precision": precision,
        "batch": batch,
        "threads": threads,
        "description": description,
    }
    device = ApiClient(url, token).json("POST", "/v1/devices", json=body)
    if as_json:
        click.echo(json.dumps(device))
        return
    click.echo(f"registered {device['name']}: its nodes carry the Ray resource device:{device['name']}")
