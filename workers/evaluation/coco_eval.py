"""COCO box metrics with pycocotools, for detections in original-image pixels."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval as CocoEvaluator

from workers.data.dataset import Dataset, DatasetSplit
from workers.results import CocoMetrics


def ground_truth(dataset: Dataset, split: DatasetSplit) -> COCO:
    """The split's ground truth as a pycocotools COCO object: the instances file for the COCO
    layout (crowd regions and segment areas included), built from the labels otherwise."""
    with contextlib.redirect_stdout(io.StringIO()):
        if split.annotation_file is not None:
            return COCO(str(split.annotation_file))
        coco = COCO()
    images, annotations = [], []
    for record in split.records:
        images.append({"id": record.image_id, "width": record.width, "height": record.height})
        for (x1, y1, x2, y2), category in zip(record.boxes.tolist(), record.classes.tolist(), strict=True):
            width, height = x2 - x1, y2 - y1
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": record.image_id,
                    "category_id": dataset.category_ids[category],
                    "bbox": [x1, y1, width, height],
                    "area": width * height,
                    "iscrowd": 0,
                }
            )
    categories = [
        {"id": cid, "name": name} for cid, name in zip(dataset.category_ids, dataset.names, strict=True)
    ]
    coco.dataset = {"images": images, "annotations": annotations, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate(
    truth: COCO,
    detections: dict[int, torch.Tensor],
    category_ids: tuple[int, ...],
) -> CocoMetrics:
    """COCO metrics of ``detections``: image id → (n, 6) x1, y1, x2, y2, score, class index,
    in the image's own pixels. Images missing from ``detections`` are not evaluated."""
    results = []
    for image_id, rows in detections.items():
        for x1, y1, x2, y2, score, category in rows.tolist():
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": category_ids[int(category)],
                    "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                    "score": round(score, 5),
                }
            )
    if not results or not detections:
        return CocoMetrics.zero()
    with contextlib.redirect_stdout(io.StringIO()):
        predicted = truth.loadRes(results)
        evaluator = CocoEvaluator(truth, predicted, "bbox")
        evaluator.params.imgIds = sorted(int(i) for i in detections)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = np.asarray(evaluator.stats[:6], dtype=float)
    return CocoMetrics(*(float(value) for value in stats))
