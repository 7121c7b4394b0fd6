"""The built-in synthetic detection dataset (COCO format), deterministic for a seed.

Each image has a noisy or textured background and 1–8 procedurally drawn shapes of random colour,
size (log-uniform from a few pixels to half the image), aspect and rotation; later shapes occlude
earlier ones. A shape that would be less than 40 % visible is left out, and each box is the tight
box of the visible pixels, so labels always agree with the pixels. Small objects make it hard at
low resolution and for small models, so AP rises with capacity and input size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from workers.data.shapes import SHAPES, draw_mask

MIN_VISIBLE_FRACTION = 0.4
MIN_BOX_SIDE = 2


@dataclass(frozen=True)
class SynthConfig:
    images: int = 200
    val_images: int = 50
    size: int = 256
    classes: int = 3
    seed: int = 0
    max_objects: int = 8
    min_object_size: float = 4.0

    def __post_init__(self) -> None:
        if not 1 <= self.classes <= len(SHAPES):
            raise ValueError(f"classes: must be in [1, {len(SHAPES)}], got {self.classes}")
        if self.images < 1 or self.val_images < 1:
            raise ValueError("images and val_images: each split needs at least one image")
        if self.size < 32:
            raise ValueError(f"size: must be ≥ 32, got {self.size}")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(30, 220, size=3).astype(np.float32)
    if kind == 0:  # smooth gradient
        direction = rng.uniform(-1, 1, size=2)
        ramp = (xx * direction[0] + yy * direction[1])[..., None]
        image = base + ramp * rng.uniform(-80, 80, size=3)
    elif kind == 1:  # stripes / waves
        frequency = rng.uniform(4, 24)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin((xx * np.cos(phase) + yy * np.sin(phase)) * frequency * np.pi)[..., None]
        image = base + wave * rng.uniform(10, 50, size=3)
    else:  # blotches
        coarse = rng.uniform(-60, 60, size=(8, 8, 3)).astype(np.float32)
        upsampled = np.asarray(
            Image.fromarray(((coarse + 60) * 2).astype(np.uint8)).resize(
                (size, size), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        image = base + upsampled / 2 - 60
    noise = rng.normal(0, rng.uniform(3, 18), size=(size, size, 3))
    return image + noise


@dataclass(frozen=True)
class SceneObject:
    category: int  # 0-based
    box: tuple[int, int, int, int]  # x, y, w, h of the visible pixels
    visible: np.ndarray  # (size, size) bool
    full_area: int  # pixels of the whole shape, occluded ones included


def render_scene(rng: np.random.Generator, config: SynthConfig) -> tuple[np.ndarray, list[SceneObject]]:
    """One image (size, size, 3) uint8 and its labelled objects, bottom to top."""
    size = config.size
    image = _background(rng, size)
    candidates = []
    for _ in range(int(rng.integers(1, config.max_objects + 1))):
        radius = float(np.exp(rng.uniform(np.log(config.min_object_size / 2), np.log(size / 4))))
        center = (float(rng.uniform(0, size)), float(rng.uniform(0, size)))
        category = int(rng.integers(config.classes))
        mask = draw_mask(
            SHAPES[category],
            size,
            center,
            radius,
            float(rng.uniform(0.75, 1.33)),
            float(rng.uniform(0, 2 * np.pi)),
        )
        colour = rng.uniform(0, 255, size=3)
        candidates.append((category, mask, colour, rng.normal(0, rng.uniform(0, 12), size=(size, size, 3))))
    kept: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    above = np.zeros((size, size), dtype=bool)
    for category, mask, colour, texture in reversed(candidates):  # the last drawn is on top
        total = int(mask.sum())
        visible = mask & ~above
        if total == 0 or visible.sum() < MIN_VISIBLE_FRACTION * total:
            continue
        kept.append((category, mask, visible, colour, texture))
        above |= mask
    objects = []
    for category, mask, visible, colour, texture in reversed(kept):
        image[mask] = colour + texture[mask]
        rows, cols = np.nonzero(visible)
        x0, y0, x1, y1 = int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1
        if x1 - x0 >= MIN_BOX_SIDE and y1 - y0 >= MIN_BOX_SIDE:
            objects.append(SceneObject(category, (x0, y0, x1 - x0, y1 - y0), visible, int(mask.sum())))
    return np.clip(image, 0, 255).astype(np.uint8), objects


def write_split(out: Path, split: str, count: int, config: SynthConfig, split_index: int) -> Path:
    image_dir = out / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        rng = np.random.default_rng([config.seed, split_index, index])
        pixels, objects = render_scene(rng, config)
        name = f"{index:06d}.png"
        Image.fromarray(pixels).save(image_dir / name)
        images.append({"id": index + 1, "file_name": name, "width": config.size, "height": config.size})
        for item in objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": item.category + 1,
                    "bbox": list(item.box),
                    "area": int(item.visible.sum()),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": SHAPES[i], "supercategory": "shape"} for i in range(config.classes)]
    path = out / "annotations" / f"instances_{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def write_synth_dataset(out: str | Path, config: SynthConfig) -> Path:
    """Write the dataset under ``out`` (images/{train,val}, annotations/instances_*.json and a
    dataset.yaml that names them) and return the dataset.yaml path."""
    root = Path(out)
    write_split(root, "train", config.images, config, 0)
    write_split(root, "val", config.val_images, config, 1)
    names = [SHAPES[i] for i in range(config.classes)]
    description = root / "dataset.yaml"
    description.write_text(
        "format: coco\n"
        f"names: [{', '.join(names)}]\n"
        "train: {images: images/train, annotations: annotations/instances_train.json}\n"
        "val: {images: images/val, annotations: annotations/instances_val.json}\n"
        f"synth: {{seed: {config.seed}, size: {config.size}, images: {config.images}, "
        f"val_images: {config.val_images}}}\n"
    )
    return description
