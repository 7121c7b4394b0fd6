"""The YOLO loss: target assignment, CIoU, gains, and that better predictions cost less."""

from __future__ import annotations

import math

import pytest
import torch

from scaler import ScalingPoint, build_model
from workers.evaluation.boxes import complete_iou, pairwise_iou, xywh_to_xyxy
from workers.training.hyp import Hyperparameters, HypError
from workers.training.loss import YoloLoss, build_targets, level_balance


def _maps(batch, anchors, sizes, outputs=8):
    return [torch.zeros(batch, anchors, size, size, outputs) for size in sizes]


def test_a_label_goes_to_its_cell_and_the_two_nearest_neighbours():
    anchors = torch.tensor([[[1.0, 1.0], [8.0, 8.0]]])  # one level, a small and a huge anchor
    # centre at (10.3, 5.8) on a 20×20 grid: left neighbour (x frac .3 < .5), bottom neighbour (y frac .8)
    targets = torch.tensor([[0, 2, 10.3 / 20, 5.8 / 20, 1.5 / 20, 1.2 / 20]])
    matched = build_targets(_maps(1, 2, [20]), targets, anchors, anchor_t=4.0)
    image, anchor, cell_y, cell_x = matched.indices[0]
    assert anchor.tolist() == [0, 0, 0]  # 1.5/8 is beyond the ratio limit for the big anchor
    assert sorted(zip(cell_x.tolist(), cell_y.tolist(), strict=True)) == [(9, 5), (10, 5), (10, 6)]
    offsets = matched.boxes[0][:, :2]
    assert (offsets > -0.5).all() and (offsets < 1.5).all()
    assert matched.classes[0].tolist() == [2, 2, 2] and image.tolist() == [0, 0, 0]
    assert torch.allclose(matched.boxes[0][:, 2:], torch.tensor([[1.5, 1.2]] * 3))


def test_anchor_ratio_threshold_and_empty_targets():
    anchors = torch.tensor([[[2.0, 2.0]]])
    targets = torch.tensor([[0, 0, 0.5, 0.5, 7.9 / 10, 2.0 / 10], [0, 0, 0.5, 0.5, 8.1 / 10, 2.0 / 10]])
    matched = build_targets(_maps(1, 1, [10]), targets, anchors, anchor_t=4.0)
    widths = matched.boxes[0][:, 2]
    assert torch.allclose(widths, torch.full_like(widths, 7.9))  # ratio 3.95 kept, 4.05 dropped
    assert len(widths) == 5  # a centre exactly on a cell corner takes all four neighbours (spec §9.2)
    empty = build_targets(_maps(2, 1, [10, 5]), torch.zeros(0, 6), torch.ones(2, 1, 2), 4.0)
    assert all(len(index[0]) == 0 for index in empty.indices)


def test_ciou_matches_its_definition():
    box = torch.tensor([[50.0, 50.0, 20.0, 10.0]])
    assert complete_iou(box, box).item() == pytest.approx(1.0)
    other = torch.tensor([[60.0, 50.0, 10.0, 10.0]])
    iou = pairwise_iou(xywh_to_xyxy(box), xywh_to_xyxy(other)).item()  # overlap 5×10 over 250
    rho2, c2 = 10.0**2, 25.0**2 + 10.0**2
    v = 4 / math.pi**2 * (math.atan(1.0) - math.atan(2.0)) ** 2
    expected = iou - rho2 / c2 - v / (1 - iou + v) * v
    assert complete_iou(box, other).item() == pytest.approx(expected, rel=1e-5)
    far = torch.tensor([[500.0, 500.0, 10.0, 10.0]])
    assert complete_iou(box, far).item() < 0


def test_balance_tables():
    assert level_balance((3, 4, 5)) == (4.0, 1.0, 0.4)
    assert level_balance((3, 4, 5, 6, 7)) == (4.0, 1.0, 0.5, 0.4, 0.1)
    assert level_balance((4, 5)) == (1.0, 0.4)


@pytest.fixture(scope="module")
def model():
    return build_model(ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=64, num_classes=3))


def test_loss_prefers_correct_predictions(model):
    loss = YoloLoss(model, Hyperparameters())
    targets = torch.tensor([[0, 1, 0.5, 0.5, 0.3, 0.25]])
    raw = [torch.zeros(1, 4, s, s, 8) - 4 for s in (8, 4, 2)]
    bad_total, bad_items = loss(raw, targets)
    matched = build_targets(raw, targets, loss.anchors, 4.0)
    good = [r.clone() for r in raw]
    for level, (image, anchor, cell_y, cell_x) in enumerate(matched.indices):
        box = matched.boxes[level]
        xy_logit = torch.logit(((box[:, :2] + 0.5) / 2).clamp(1e-4, 1 - 1e-4))
        wh_logit = torch.logit((torch.sqrt(box[:, 2:] / matched.anchors[level]) / 2).clamp(1e-4, 1 - 1e-4))
        good[level][image, anchor, cell_y, cell_x, :2] = xy_logit
        good[level][image, anchor, cell_y, cell_x, 2:4] = wh_logit
        good[level][image, anchor, cell_y, cell_x, 4] = 6.0
        good[level][image, anchor, cell_y, cell_x, 5 + 1] = 6.0
    good_total, good_items = loss(good, targets)
    assert good_items[0] < 1e-3  # CIoU = 1 for exact boxes
    assert (good_items[:3] < bad_items[:3]).all() and good_total < bad_total
    assert torch.isclose(bad_total, bad_items[3] * 1)


def test_loss_scales_with_batch_and_gradients_flow(model):
    loss = YoloLoss(model, Hyperparameters())
    model.train()
    images = torch.rand(2, 3, 64, 64)
    targets = torch.tensor([[0, 0, 0.4, 0.4, 0.2, 0.3], [1, 2, 0.6, 0.5, 0.5, 0.4]])
    total, items = loss(model(images), targets)
    assert torch.isclose(total, items[3] * 2)
    total.backward()
    assert (
        model.model[0].conv.weight.grad is not None and torch.isfinite(model.model[0].conv.weight.grad).all()
    )
    model.zero_grad()


def test_single_class_has_no_class_loss_and_focal_option():
    single = build_model(
        ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=64, num_classes=1)
    )
    raw = [torch.randn(1, 4, s, s, 6) for s in (8, 4, 2)]
    targets = torch.tensor([[0, 0, 0.5, 0.5, 0.3, 0.3]])
    _, items = YoloLoss(single, Hyperparameters())(raw, targets)
    assert items[2] == 0
    _, focal = YoloLoss(single, Hyperparameters(fl_gamma=1.5))(raw, targets)
    assert focal[1] < items[1]  # focal loss down-weights the many easy negatives


def test_hyperparameters_validate_and_accept_reference_files(tmp_path):
    path = tmp_path / "hyp.yaml"
    path.write_text("lr0: 0.02\ngiou: 0.06\nmixup: 0.2\n")
    hyp = Hyperparameters.from_yaml(path)
    assert (hyp.lr0, hyp.box, hyp.mixup) == (0.02, 0.06, 0.2)
    for values, field in (
        ({"lr0": -1}, "lr0"),
        ({"mosaic": 2}, "mosaic"),
        ({"anchors": 3}, "anchors"),
        ({"anchor_t": 1.0}, "anchor_t"),
        ({"box": "big"}, "box"),
    ):
        with pytest.raises(HypError) as error:
            Hyperparameters.from_mapping(values)
        assert error.value.field == field
