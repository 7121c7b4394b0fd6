"""``scaler train``: one trial from the command line, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command()
@click.option(
    "--model", "model_name", default="yolov4-p5", show_default=True, help="Preset name or model yaml."
)
@click.option("--depth-multiple", type=float, default=None, help="Re-scale the model's depth.")
@click.option("--width-multiple", type=float, default=None, help="Re-scale the model's width.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Dataset folder or data yaml.")
@click.option("--img", "image_size", type=int, default=256, show_default=True, help="Training and test size.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--hyp", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Hyperparameter yaml."
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Data loader processes."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cache", is_flag=True, help="Cache resized images on disk under --out.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Checkpoints (last.pt, best.pt)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the results at the end.")
def train(
    model_name: str,
    depth_multiple: float | None,
    width_multiple: float | None,
    data: Path,
    image_size: int,
    epochs: int,
    batch_size: int,
    hyp: Path | None,
    device: str,
    workers: int,
    seed: int,
    cache: bool,
    out: Path | None,
    as_json: bool,
) -> None:
    """Train one network on a dataset, evaluate COCO AP each epoch, measure its latency."""
    from tqdm import tqdm

    from workers.api import Hyperparameters, HypError, LatencyTarget, TrialConfig, run_trial

    try:
        hyperparameters = Hyperparameters.from_yaml(hyp) if hyp else Hyperparameters()
    except HypError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from error
    config = TrialConfig(
        data=str(data),
        model=model_name,
        depth_multiple=depth_multiple,
        width_multiple=width_multiple,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch_size,
        hyp=hyperparameters,
        device=device,
        workers=workers,
        seed=seed,
        out_dir=str(out) if out else None,
        cache=cache,
        latency=LatencyTarget(device=device),
    )
    bar: dict[str, Any] = {}

    def on_batch(index: int, losses: Any) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(desc=f"epoch {bar.get('epoch', 0) + 1}/{epochs}", unit="batch", disable=as_json)
        bar["bar"].update(1)
        box, obj, cls, total = losses.tolist()
        bar["bar"].set_postfix(box=f"{box:.3f}", obj=f"{obj:.3f}", cls=f"{cls:.3f}", total=f"{total:.3f}")

    def on_epoch(result: Any, trainer: Any, latency: Any) -> None:
        if "bar" in bar:
            bar.pop("bar").close()
        bar["epoch"] = result.epoch + 1
        if not as_json:
            metrics = result.metrics
            click.echo(
                f"epoch {result.epoch + 1}/{epochs}: AP {metrics.ap:.4f}  AP50 {metrics.ap50:.4f}  "
                f"AP75 {metrics.ap75:.4f}  {result.images_per_second:.1f} img/s"
            )

    result = run_trial(config, on_epoch=on_epoch, on_batch=on_batch)
    if "bar" in bar:
        bar.pop("bar").close()
    document = _summary(result)
    if as_json:
        click.echo(json.dumps(document))
    elif result.status == "completed":
        latency, with_nms = document["latency"], document["latency_with_nms"]
        network_ms, with_nms_ms = latency["estimate_ms"], with_nms["estimate_ms"]
        click.echo(
            f"done: AP {document['ap']:.4f} AP50 {document['ap50']:.4f}; latency {network_ms:.1f} ms "
            f"({with_nms_ms:.1f} ms with NMS) on {latency['device']}; {document['params']:,} params, "
            f"{document['gflops']:.2f} GFLOPs; {document['train_seconds']:.0f} s"
        )
    if result.status != "completed":
        click.echo(f"error: {result.error}", err=True)
        raise SystemExit(1)


def _summary(result: Any) -> dict[str, Any]:
    def latency(stats: Any) -> dict[str, Any] | None:
        if stats is None:
            return None
        return {
            key: getattr(stats, key)
            for key in (
                "estimate_ms",
                "spread",
                "p50_ms",
                "p95_ms",
                "mean_ms",
                "device",
                "device_name",
                "batch",
                "precision",
                "input_size",
                "threads",
            )
        }

    metrics = result.metrics
    return {
        "status": result.status,
        "error": result.error,
        "ap": metrics.ap,
        "ap50": metrics.ap50,
        "ap75": metrics.ap75,
        "ap_small": metrics.ap_small,
        "ap_medium": metrics.ap_medium,
        "ap_large": metrics.ap_large,
        "latency": latency(result.latency),
        "latency_with_nms": latency(result.latency_with_nms),
        "params": result.params,
        "gflops": result.gflops,
        "epochs": result.epochs,
        "train_seconds": result.train_seconds,
        "history": [
            {"epoch": item["epoch"], **item["metrics"], "losses": item["losses"]} for item in result.history
        ],
    }
