"""Once-for-all sub-networks (paper §5.5) share the trained weights and need no retraining."""

from __future__ import annotations

import pytest
import torch

from scaler import ScalingPoint, SpecError, build_model, count_parameters, drop_top_levels


@pytest.fixture(scope="module")
def p7():
    model = build_model(ScalingPoint(stages=7, depth_multiple=0.33, width_multiple=0.125, input_size=256))
    return model.eval()


@pytest.mark.parametrize(
    ("count", "name", "strides"), [(1, "\\P7", [8, 16, 32, 64]), (2, "\\P7\\P6", [8, 16, 32])]
)
def test_sub_network_predicts_the_parents_lower_levels(p7, count, name, strides):
    sub = drop_top_levels(p7, count)
    assert sub.spec.name.endswith(name)
    assert sub.stride.tolist() == strides
    image = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        _, parent_raw = p7(image)
        predictions, sub_raw = sub(image)
    assert len(sub_raw) == len(strides)
    for parent_level, sub_level in zip(parent_raw, sub_raw, strict=False):
        assert torch.equal(parent_level, sub_level)
    assert predictions.shape[1] == sum(4 * (256 // s) ** 2 for s in strides)


def test_sub_network_shares_parameters_and_drops_only_the_top_branches(p7):
    sub = drop_top_levels(p7, 2)
    parent_tensors = {p.data_ptr() for p in p7.parameters()}
    assert all(p.data_ptr() in parent_tensors for p in sub.parameters())
    assert count_parameters(sub) < count_parameters(p7)
    # the backbone and the whole top-down path stay (the P3–P5 outputs depend on them)
    assert len(sub.spec.layers) == len(p7.spec.layers) - 8
    with torch.no_grad():
        sub.model[0].conv.weight.add_(1.0)
    assert torch.equal(sub.model[0].conv.weight, p7.model[0].conv.weight)
    with torch.no_grad():
        sub.model[0].conv.weight.sub_(1.0)


def test_sub_network_runs_at_other_resolutions_but_keeps_the_backbone_stride(p7):
    sub = drop_top_levels(p7, 2)
    assert sub.max_stride == 32 and sub.input_multiple == p7.input_multiple == 128
    with torch.no_grad():
        predictions, _ = sub(torch.rand(1, 3, 384, 384))
    assert predictions.shape == (1, 4 * (48**2 + 24**2 + 12**2), 85)


def test_p6_sub_network_and_bad_counts():
    p6 = build_model(ScalingPoint(stages=6, depth_multiple=0.33, width_multiple=0.125, input_size=128))
    assert drop_top_levels(p6, 1).stride.tolist() == [8, 16, 32]
    for count in (0, 4, 5):
        with pytest.raises(SpecError) as error:
            drop_top_levels(p6, count)
        assert error.value.field == "count"
