"""``scaler train``: one trial from the command line, with a progress bar."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from workers.api import Hyperparameters

# The reference's scratch recipe (SGD, nominal batch 64, lr0 0.01, a 3-epoch warm-up, full mosaic)
# is made for 300-epoch runs: over a few dozen epochs it barely starts to learn (docs/benchmarks.md:
# AP50 0.049 after 12 epochs where the short-budget recipe reached 0.515; 200 COCO photos, 20
# epochs: AP 0.012 against a short-recipe search's 0.188). So ``--recipe auto`` trains runs
# shorter than this with the short-budget recipe, and longer ones with the reference's.
SHORT_RUN_EPOCHS = 100
AUTO, SHORT, REFERENCE = "auto", "short", "reference"
RECIPES = (AUTO, SHORT, REFERENCE)
# the preset part that holds the short-budget recipe (the tiny-cpu presets include it)


@dataclass(frozen=True)
class Recipe:
    """How a run trains: ``name`` (short or reference), why it was chosen, its optimizer, batch,
    nominal batch (gradients accumulate to it) and its hyperparameters' changes to the reference's
    scratch ones."""

    name: str
    reason: str
    optimizer: str
    batch_size: int
    nominal_batch: int
    changes: dict[str, float]


def choose_recipe(requested: str, epochs: int) -> tuple[str, str]:
    """The recipe's name for ``--recipe requested`` and a run of ``epochs``, and why."""
    if requested != AUTO:
        return requested, f"--recipe {requested}"
    if epochs < SHORT_RUN_EPOCHS:
        return SHORT, f"epochs {epochs} < {SHORT_RUN_EPOCHS}"
    return REFERENCE, f"epochs {epochs} ≥ {SHORT_RUN_EPOCHS}"


def load_recipe(requested: str, epochs: int) -> Recipe:
    """The short recipe as its preset part writes it; the reference's as a trial's defaults are
    (``TrialConfig``: SGD, nominal batch 64; ``Hyperparameters``: the scratch values)."""
    name, reason = choose_recipe(requested, epochs)
    if name == SHORT:
        from search_spaces import SHORT_RECIPE_PART, preset_document

        document = preset_document(SHORT_RECIPE_PART)
        training = document["training"]
        changes = dict(document["space"]["hyperparameters"]["base"])
    else:
        from workers.api import TrialConfig

        training = {item.name: item.default for item in fields(TrialConfig)}
        changes = {}
    return Recipe(
        name=name,
        reason=reason,
        optimizer=training["optimizer"],
        batch_size=training["batch_size"],
        nominal_batch=training["nominal_batch"],
        changes=changes,
    )


def _known_optimizer(context: click.Context, parameter: click.Parameter, value: str | None) -> str | None:
    """``--optimizer``, checked against the trainer's optimizers when given (imported only then:
    the trainer's module imports torch)."""
    if value is None:
        return None
    from workers.api import OPTIMIZERS

    if value not in OPTIMIZERS:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(OPTIMIZERS)}")
    return value


@click.command()
@click.option(
    "--model", "model_name", default="yolov4-p5", show_default=True, help="Preset name or model yaml."
)
@click.option("--depth-multiple", type=float, default=None, help="Re-scale the model's depth.")
@click.option("--width-multiple", type=float, default=None, help="Re-scale the model's width.")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Dataset folder or data yaml.")
@click.option("--img", "image_size", type=int, default=256, show_default=True, help="Training and test size.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(min=1),
    default=None,
    help="Images per batch [default: the recipe's].",
)
@click.option(
    "--recipe",
    "recipe_name",
    type=click.Choice(RECIPES),
    default=AUTO,
    show_default=True,
    help="Training recipe: short (the tiny-cpu presets' short-budget one), reference (the reference's "
    f"scratch one, made for 300 epochs); auto: short under {SHORT_RUN_EPOCHS} epochs.",
)
@click.option(
    "--optimizer",
    callback=_known_optimizer,
    metavar="NAME",
    help="Override the recipe's optimizer: sgd or adam.",
)
@click.option(
    "--hyp",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Hyperparameter yaml: its keys over the recipe's.",
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
    batch_size: int | None,
    recipe_name: str,
    optimizer: str | None,
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

    from workers.api import HypError, LatencyTarget, TrialConfig, run_trial

    recipe = load_recipe(recipe_name, epochs)
    try:
        hyperparameters = _hyperparameters(recipe, hyp)
    except HypError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from error
    batch_size = batch_size or recipe.batch_size
    chosen_optimizer = optimizer or recipe.optimizer
    recipe_document = {
        "name": recipe.name,
        "reason": recipe.reason,
        "optimizer": chosen_optimizer,
        "batch_size": batch_size,
        "nominal_batch": recipe.nominal_batch,
        "hyperparameters": hyperparameters.to_dict(),
    }
    if not as_json:
        click.echo(_recipe_line(recipe_document, optimizer is not None, hyp))
    config = TrialConfig(
        data=str(data),
        model=model_name,
        depth_multiple=depth_multiple,
        width_multiple=width_multiple,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch_size,
        hyp=hyperparameters,
        nominal_batch=recipe.nominal_batch,
        optimizer=chosen_optimizer,
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
    document = {**_summary(result), "recipe": recipe_document}
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


def _hyperparameters(recipe: Recipe, hyp: Path | None) -> Hyperparameters:
    """The recipe's hyperparameters, with the keys a ``--hyp`` file writes over them."""
    import yaml

    from workers.api import RENAMED, Hyperparameters

    if hyp is None:
        return Hyperparameters.from_mapping(recipe.changes)
    from_file = Hyperparameters.from_yaml(hyp)  # checked: a readable mapping of known names
    written = {RENAMED.get(key, key) for key in yaml.safe_load(hyp.read_text())}
    return from_file.replace(**{key: value for key, value in recipe.changes.items() if key not in written})


def _recipe_line(recipe: dict[str, Any], optimizer_given: bool, hyp: Path | None) -> str:
    """E.g. 'recipe: short (epochs 20 < 100): adam, batch 8 (nominal 8), lr0 0.004, warmup_epochs
    0.5, …; the rest the reference's scratch hyperparameters'."""
    from workers.api import Hyperparameters

    values, scratch = recipe["hyperparameters"], Hyperparameters().to_dict()
    changed = ["lr0", *(key for key, value in values.items() if key != "lr0" and value != scratch[key])]
    optimizer = f"{recipe['optimizer']} (--optimizer)" if optimizer_given else recipe["optimizer"]
    over = f", {hyp} over it" if hyp else ""
    return (
        f"recipe: {recipe['name']} ({recipe['reason']}{over}): {optimizer}, batch {recipe['batch_size']} "
        f"(nominal {recipe['nominal_batch']}), {', '.join(f'{key} {values[key]:g}' for key in changed)}; "
        "the rest the reference's scratch hyperparameters"
    )


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
