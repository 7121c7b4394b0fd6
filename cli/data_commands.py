"""``scaler data …``: the built-in synthetic dataset and dataset validation."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def data() -> None:
    """Create and check detection datasets."""


@data.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--images", type=click.IntRange(min=1), default=200, show_default=True, help="Training images.")
@click.option(
    "--val-images", type=click.IntRange(min=1), default=50, show_default=True, help="Validation images."
)
@click.option(
    "--size", type=click.IntRange(min=32), default=256, show_default=True, help="Image side in pixels."
)
@click.option("--classes", type=click.IntRange(1, 8), default=3, show_default=True, help="Shape classes.")
@click.option("--seed", type=int, default=0, show_default=True)
def synth(out: Path, images: int, val_images: int, size: int, classes: int, seed: int) -> None:
    """Write the built-in synthetic COCO-format dataset (deterministic for a seed)."""
    from workers.api import SynthConfig, write_synth_dataset

    description = write_synth_dataset(out, SynthConfig(images, val_images, size, classes, seed))
    click.echo(f"wrote {images} + {val_images} images of {classes} classes to {out} ({description.name})")


@data.command()
@click.argument("location", type=click.Path(path_type=Path))
def check(location: Path) -> None:
    """Open and validate a dataset (COCO folder, dataset.yaml or YOLO data yaml)."""
    from workers.api import DatasetError, open_dataset

    try:
        dataset = open_dataset(location)
    except DatasetError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from error
    for split in (dataset.train, dataset.val):
        click.echo(f"{split.name}: {len(split.records)} images, {split.num_objects} objects")
    click.echo(f"{dataset.layout} dataset with {dataset.num_classes} classes: {', '.join(dataset.names)}")
