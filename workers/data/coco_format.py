"""COCO JSON layout: an images directory and an instances file, read with pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from pycocotools.coco import COCO

from workers.data.dataset import DatasetSplit, ImageRecord, box_problems
from workers.data.images import image_problem, image_size
from workers.data.roots import DataRoots


def read_coco(annotation_file: Path, problems: list[str], split: str) -> COCO | None:
    if not annotation_file.is_file():
        problems.append(f"{split}: annotation file {annotation_file} is missing")
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            return COCO(str(annotation_file))
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError, UnicodeDecodeError) as error:
        problems.append(
            f"{split}: {annotation_file} is not a COCO instances file ({type(error).__name__}: {error})"
        )
        return None


def coco_categories(coco: COCO) -> tuple[tuple[int, ...], tuple[str, ...]]:
    categories = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c["id"])
    return tuple(c["id"] for c in categories), tuple(str(c["name"]) for c in categories)


def load_coco_split(
    split: str,
    images_dir: Path,
    coco: COCO,
    category_ids: tuple[int, ...],
    problems: list[str],
    annotation_file: Path | None = None,
    roots: DataRoots | None = None,
    decode: bool = True,
) -> DatasetSplit:
    """Records of one split; every problem found is appended to ``problems``. Each image must lie
    inside ``roots`` (checked before it is opened)."""
    roots = roots or DataRoots.unconfined()
    index_of = {category_id: index for index, category_id in enumerate(category_ids)}
    records = []
    image_ids = sorted(coco.getImgIds())
    if not image_ids:
        problems.append(f"{split}: the split has no images")
    for image_id in image_ids:
        info = coco.imgs[image_id]
        path = images_dir / str(info.get("file_name", ""))
        where = f"{split}: image {info.get('file_name')!r} (id {image_id})"
        roots.check(path, where, annotation_file)
        trouble = image_problem(path, decode)
        if trouble:
            problems.append(f"{where}: {trouble}")
            continue
        width, height = image_size(path)
        if (info.get("width"), info.get("height")) != (width, height):
            problems.append(
                f"{where}: annotated as {info.get('width')}×{info.get('height')}, file is {width}×{height}"
            )
            continue
        boxes, classes = [], []
        for annotation in coco.imgToAnns.get(image_id, []):
            at = f"{where}, annotation {annotation.get('id')}"
            category = annotation.get("category_id")
            if category not in index_of:
                problems.append(f"{at}: unknown category id {category!r}")
                continue
            box = annotation.get("bbox", [])
            found = box_problems(at, box, width, height)
            problems.extend(found)
            if found or annotation.get("iscrowd", 0):
                continue
            x, y, w, h = box
            boxes.append([max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)])
            classes.append(index_of[category])
        records.append(ImageRecord.from_lists(int(image_id), path, width, height, boxes, classes))
    return DatasetSplit(split, tuple(records), annotation_file)
