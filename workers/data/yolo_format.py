"""YOLO txt layout: images/<split>/*.jpg with labels/<split>/*.txt rows ``class cx cy w h``
(normalised to [0, 1]) and a data yaml naming the splits and classes."""

from __future__ import annotations

from pathlib import Path

from workers.data.dataset import DatasetSplit, ImageRecord
from workers.data.images import IMAGE_SUFFIXES, image_problem, image_size
from workers.data.roots import DataRoots

EDGE_TOLERANCE = 1e-3


def label_path(image_path: Path) -> Path:
    """images/…/name.jpg → labels/…/name.txt (the last ``images`` folder is swapped)."""
    parts = list(image_path.parts)
    for position in range(len(parts) - 1, -1, -1):
        if parts[position] == "images":
            parts[position] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _parse_labels(
    where: str, path: Path, num_classes: int, problems: list[str]
) -> list[tuple[int, list[float]]]:
    if not path.is_file():
        return []  # an image without a label file has no objects
    rows = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{where}, {path.name}:{line_number}"
        fields = line.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            problems.append(f"{at}: not numbers: {line.strip()!r}")
            continue
        if len(values) != 5 or not values[0].is_integer():
            problems.append(f"{at}: expected 'class cx cy w h', got {line.strip()!r}")
            continue
        category, cx, cy, w, h = int(values[0]), *values[1:]
        if not 0 <= category < num_classes:
            problems.append(f"{at}: unknown class {category} (the data yaml names {num_classes})")
            continue
        if w <= 0 or h <= 0:
            problems.append(f"{at}: box has a non-positive size")
            continue
        low, high = -EDGE_TOLERANCE, 1 + EDGE_TOLERANCE
        if not (low <= cx - w / 2 and cx + w / 2 <= high and low <= cy - h / 2 and cy + h / 2 <= high):
            problems.append(f"{at}: box lies outside the image")
            continue
        rows.append((category, [cx, cy, w, h]))
    return rows


def load_yolo_split(
    split: str,
    images_dir: Path,
    num_classes: int,
    problems: list[str],
    roots: DataRoots | None = None,
    decode: bool = True,
) -> DatasetSplit:
    """Records of one split; every image and label file must lie inside ``roots`` (checked before
    it is opened)."""
    roots = roots or DataRoots.unconfined()
    if not images_dir.is_dir():
        problems.append(f"{split}: images folder {images_dir} is missing")
        return DatasetSplit(split, ())
    paths = sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        problems.append(f"{split}: the split has no images")
    records = []
    for image_id, path in enumerate(paths, start=1):
        where = f"{split}: image {path.name!r}"
        roots.check(path, where, images_dir)
        labels = roots.check(label_path(path), f"{where}: its label file", images_dir)
        trouble = image_problem(path, decode)
        if trouble:
            problems.append(f"{where}: {trouble}")
            continue
        width, height = image_size(path)
        rows = _parse_labels(where, labels, num_classes, problems)
        boxes = [
            [
                max((cx - w / 2) * width, 0),
                max((cy - h / 2) * height, 0),
                min((cx + w / 2) * width, width),
                min((cy + h / 2) * height, height),
            ]
            for _, (cx, cy, w, h) in rows
        ]
        records.append(
            ImageRecord.from_lists(image_id, path, width, height, boxes, [category for category, _ in rows])
        )
    return DatasetSplit(split, tuple(records))
