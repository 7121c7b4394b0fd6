"""open_dataset: find a dataset's layout, read both splits, and validate everything at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workers.data.coco_format import coco_categories, load_coco_split, read_coco
from workers.data.dataset import Dataset, DatasetError, DatasetSplit
from workers.data.roots import DataRoots
from workers.data.yolo_format import load_yolo_split

DESCRIPTION = "dataset.yaml"
SPLITS = ("train", "val")
MAX_DESCRIPTION_BYTES = 1024 * 1024


def open_dataset(location: str | Path, roots: DataRoots | None = None, decode: bool = True) -> Dataset:
    """A validated Dataset from a folder holding ``dataset.yaml`` (our COCO layout, as written by
    ``scaler data synth``), a folder with ``annotations/instances_{train,val}.json``, or a YOLO
    data yaml. Raises :class:`DatasetError` listing every problem found.

    ``roots`` confines it: every file and folder it reads (the description, its ``path``, split
    folders, annotation and label files, each image) must resolve inside one, checked before it is
    read (:class:`~workers.data.roots.OutsideRootsError` otherwise). ``decode=False`` reads image
    headers only, for a process re-opening a dataset that was decoded at the door (a trial)."""
    roots = roots or DataRoots.unconfined()
    path = roots.check(Path(location), "the dataset path")
    if path.is_dir() and (path / DESCRIPTION).is_file():
        path = roots.check(path / DESCRIPTION, DESCRIPTION)
    if path.is_dir():
        if (path / "annotations" / "instances_train.json").is_file():
            return _open_coco(path, _default_coco_description(), roots, decode)
        raise DatasetError(path, [f"no {DESCRIPTION}, annotations/instances_train.json or data yaml found"])
    if not path.is_file():
        raise DatasetError(path, ["the dataset path does not exist"])
    if path.stat().st_size > MAX_DESCRIPTION_BYTES:
        raise DatasetError(path, [f"a data yaml is at most {MAX_DESCRIPTION_BYTES} bytes"])
    try:
        description = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        raise DatasetError(path, [f"not valid yaml: {type(error).__name__}"]) from error
    if not isinstance(description, dict):
        raise DatasetError(path, ["the dataset description must be a mapping"])
    root = roots.check(path.parent / str(description.get("path", ".")), "its 'path' entry", source=path)
    if description.get("format", "yolo") == "coco":
        return _open_coco(root, description, roots, decode, source=path)
    return _open_yolo(root, description, roots, decode, source=path)


def _default_coco_description() -> dict[str, Any]:
    return {
        split: {"images": f"images/{split}", "annotations": f"annotations/instances_{split}.json"}
        for split in SPLITS
    }


def _open_coco(
    root: Path, description: dict[str, Any], roots: DataRoots, decode: bool, source: Path | None = None
) -> Dataset:
    problems: list[str] = []
    cocos = {}
    for split in SPLITS:
        entry = description.get(split)
        if not isinstance(entry, dict) or not {"images", "annotations"} <= set(entry):
            problems.append(f"{split}: needs 'images' and 'annotations' entries")
            continue
        where = source or root
        annotations = roots.check(root / str(entry["annotations"]), f"{split}.annotations", where)
        images = roots.check(root / str(entry["images"]), f"{split}.images", where)
        cocos[split] = (images, read_coco(annotations, problems, split), annotations)
    if problems or any(coco is None for _, coco, _ in cocos.values()):
        raise DatasetError(source or root, problems)
    category_ids, names = coco_categories(cocos["train"][1])
    if not category_ids:
        raise DatasetError(source or root, ["train: no categories"])
    if coco_categories(cocos["val"][1]) != (category_ids, names):
        problems.append("val: its categories differ from train's")
    splits = {
        split: load_coco_split(split, images_dir, coco, category_ids, problems, annotations, roots, decode)
        for split, (images_dir, coco, annotations) in cocos.items()
    }
    return _finish(source or root, root, "coco", names, category_ids, splits, problems)


def _class_names(description: dict[str, Any], problems: list[str]) -> tuple[str, ...]:
    names = description.get("names")
    if isinstance(names, dict):
        keys = sorted(names)
        if keys != list(range(len(keys))):
            problems.append("names: the keys must be 0 … nc−1")
        names = [names[key] for key in keys]
    if not isinstance(names, list) or not names:
        count = description.get("nc")
        if isinstance(count, int) and count > 0:
            return tuple(f"class{i}" for i in range(count))
        problems.append("names: a non-empty list of class names (or nc) is required")
        return ()
    if isinstance(description.get("nc"), int) and description["nc"] != len(names):
        problems.append(f"nc: {description['nc']} but {len(names)} names")
    return tuple(str(name) for name in names)


def _open_yolo(
    root: Path, description: dict[str, Any], roots: DataRoots, decode: bool, source: Path
) -> Dataset:
    problems: list[str] = []
    names = _class_names(description, problems)
    splits = {}
    for split in SPLITS:
        folder = description.get(split)
        if not isinstance(folder, str):
            problems.append(f"{split}: the data yaml must name the split's images folder")
            splits[split] = DatasetSplit(split, ())
            continue
        images = roots.check(root / folder, f"its '{split}' entry", source)
        splits[split] = load_yolo_split(split, images, len(names), problems, roots, decode)
    category_ids = tuple(range(1, len(names) + 1))
    return _finish(source, root, "yolo", names, category_ids, splits, problems)


def _finish(
    source: Path,
    root: Path,
    layout: str,
    names: tuple[str, ...],
    category_ids: tuple[int, ...],
    splits: dict[str, DatasetSplit],
    problems: list[str],
) -> Dataset:
    if problems:
        raise DatasetError(source, problems)
    return Dataset(root, layout, names, category_ids, splits["train"], splits["val"])
