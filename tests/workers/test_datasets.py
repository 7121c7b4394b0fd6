"""Opening datasets: COCO and YOLO layouts, and every kind of bad input named."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from workers.data.dataset import DatasetError
from workers.data.open import open_dataset


@pytest.fixture
def coco_copy(synth_dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(synth_dataset, root)
    return root


def _edit_annotations(root, split, edit):
    path = root / "annotations" / f"instances_{split}.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def test_synth_dataset_opens_as_coco(synth_dataset):
    dataset = open_dataset(synth_dataset)
    assert dataset.layout == "coco" and dataset.names == ("circle", "square", "triangle")
    assert dataset.category_ids == (1, 2, 3)
    assert len(dataset.train.records) == 24 and len(dataset.val.records) == 8
    record = dataset.train.records[0]
    assert record.boxes.shape[1] == 4 and (record.boxes[:, 2:] > record.boxes[:, :2]).all()
    assert set(np.concatenate([r.classes for r in dataset.train.records])) == {0, 1, 2}


def test_folder_without_description_uses_the_default_coco_layout(coco_copy):
    (coco_copy / "dataset.yaml").unlink()
    assert open_dataset(coco_copy).layout == "coco"


def _yolo_from(dataset, root):
    for split in (dataset.train, dataset.val):
        for record in split.records:
            image = root / "images" / split.name / record.path.name
            image.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(record.path, image)
            label = root / "labels" / split.name / (record.path.stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            rows = []
            for (x1, y1, x2, y2), category in zip(record.boxes, record.classes, strict=True):
                cx, cy = (x1 + x2) / 2 / record.width, (y1 + y2) / 2 / record.height
                w, h = (x2 - x1) / record.width, (y2 - y1) / record.height
                rows.append(f"{category} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
            label.write_text("\n".join(rows) + "\n")
    data_yaml = root / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": list(dataset.names)})
    )
    return data_yaml


def test_yolo_layout_gives_the_same_objects(synth_dataset, tmp_path):
    coco = open_dataset(synth_dataset)
    yolo = open_dataset(_yolo_from(coco, tmp_path / "yolo"))
    assert yolo.layout == "yolo" and yolo.names == coco.names
    for a, b in zip(coco.val.records, yolo.val.records, strict=True):
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
        assert (a.classes == b.classes).all()


def _problems(location):
    with pytest.raises(DatasetError) as error:
        open_dataset(location)
    return error.value.problems


def test_missing_and_corrupt_images_are_listed(coco_copy):
    (coco_copy / "images" / "train" / "000003.png").unlink()
    (coco_copy / "images" / "val" / "000001.png").write_bytes(b"not a png")
    problems = _problems(coco_copy)
    assert any("000003.png" in p and "file missing" in p for p in problems)
    assert any("000001.png" in p and "corrupt image file" in p for p in problems)


def test_bad_boxes_and_categories_are_listed(coco_copy):
    def corrupt(document):
        document["annotations"][0]["bbox"] = [120, 120, 30, 30]
        document["annotations"][1]["bbox"] = [10, 10, 0, 5]
        document["annotations"][2]["category_id"] = 42

    _edit_annotations(coco_copy, "train", corrupt)
    problems = _problems(coco_copy)
    assert any("outside the 128×128 image" in p for p in problems)
    assert any("non-positive size" in p for p in problems)
    assert any("unknown category id 42" in p for p in problems)
    assert all(p.startswith("train: ") for p in problems)


def test_empty_split_and_missing_annotations(coco_copy):
    _edit_annotations(coco_copy, "val", lambda d: (d["images"].clear(), d["annotations"].clear()))
    assert any(p == "val: the split has no images" for p in _problems(coco_copy))
    (coco_copy / "annotations" / "instances_train.json").unlink()
    assert any("annotation file" in p and "missing" in p for p in _problems(coco_copy))


def test_many_problems_are_summarised(coco_copy):
    _edit_annotations(coco_copy, "train", lambda d: [a.update(category_id=99) for a in d["annotations"]])
    with pytest.raises(DatasetError) as error:
        open_dataset(coco_copy)
    assert len(error.value.problems) > 20
    message = str(error.value)
    assert (
        message.count("unknown category id 99") == 20
        and f"and {len(error.value.problems) - 20} more" in message
    )


def test_bad_yolo_labels_are_listed(synth_dataset, tmp_path):
    data_yaml = _yolo_from(open_dataset(synth_dataset), tmp_path / "yolo")
    label = tmp_path / "yolo" / "labels" / "train" / "000000.txt"
    label.write_text(
        "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n1 0.95 0.5 0.3 0.2\n2 0.5 0.5 -0.1 0.2\nx y z\n0 0.5\n"
    )
    problems = _problems(data_yaml)
    assert any("unknown class 7" in p for p in problems)
    assert any("outside the image" in p for p in problems)
    assert any("non-positive size" in p for p in problems)
    assert any("not numbers" in p for p in problems)
    assert any("expected 'class cx cy w h'" in p for p in problems)


def test_unusable_locations(tmp_path):
    assert "does not exist" in _problems(tmp_path / "nowhere")[0]
    (tmp_path / "empty").mkdir()
    assert "no dataset.yaml" in _problems(tmp_path / "empty")[0]
    bad = tmp_path / "data.yaml"
    bad.write_text("train: images/train\n")
    problems = _problems(bad)
    assert any(p.startswith("names:") for p in problems) and any(p.startswith("val:") for p in problems)
