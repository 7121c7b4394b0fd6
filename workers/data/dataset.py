"""The in-memory form of a detection dataset, whatever its layout on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_LISTED_PROBLEMS = 20


class DatasetError(ValueError):
    """A dataset that cannot be used, with every offending item found (the first 20 listed)."""

    def __init__(self, source: str | Path, problems: list[str] | None = None) -> None:
        # one argument: a message (as PyTorch's DataLoader re-raises a worker's error in the parent)
        self.source = str(source) if problems is not None else "in a data loader worker"
        self.problems = list(problems) if problems is not None else [str(source)]
        listed = "\n".join(f"  - {problem}" for problem in self.problems[:MAX_LISTED_PROBLEMS])
        more = len(self.problems) - MAX_LISTED_PROBLEMS
        suffix = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"dataset {self.source}: {len(self.problems)} problem(s)\n{listed}{suffix}")


@dataclass(frozen=True)
class ImageRecord:
    """One image and its objects: ``boxes`` (N, 4) as x1, y1, x2, y2 in pixels, ``classes`` (N,)
    as 0-based class indices."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray = field(repr=False)
    classes: np.ndarray = field(repr=False)

    @classmethod
    def from_lists(
        cls, image_id: int, path: Path, width: int, height: int, boxes: list[list[float]], classes: list[int]
    ) -> ImageRecord:
        """A record from plain lists of xyxy pixel boxes and 0-based classes."""
        return cls(
            image_id=image_id,
            path=path,
            width=width,
            height=height,
            boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            classes=np.asarray(classes, dtype=np.int64),
        )


@dataclass(frozen=True)
class DatasetSplit:
    name: str
    records: tuple[ImageRecord, ...]
    annotation_file: Path | None = None  # COCO layout: the ground truth used for evaluation

    @property
    def num_objects(self) -> int:
        return sum(len(record.classes) for record in self.records)


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: class names, the COCO category id of each class, and two splits."""

    root: Path
    layout: str  # "coco" or "yolo"
    names: tuple[str, ...]
    category_ids: tuple[int, ...]
    train: DatasetSplit
    val: DatasetSplit

    @property
    def num_classes(self) -> int:
        return len(self.names)


def box_problems(where: str, box: list[float], width: int, height: int, tolerance: float = 1.0) -> list[str]:
    """Problems of an x, y, w, h pixel box in a width × height image."""
    if len(box) != 4 or not all(isinstance(v, int | float) and np.isfinite(v) for v in box):
        return [f"{where}: box {box!r} is not four finite numbers"]
    x, y, w, h = box
    problems = []
    if w <= 0 or h <= 0:
        problems.append(f"{where}: box {box!r} has a non-positive size")
    if x < -tolerance or y < -tolerance or x + w > width + tolerance or y + h > height + tolerance:
        problems.append(f"{where}: box {box!r} lies outside the {width}×{height} image")
    return problems
