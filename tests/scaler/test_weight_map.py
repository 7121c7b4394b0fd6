"""Weights map between points of a family by structure (role, block, level, channel)."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from scaler import ScalingPoint, build_model, compound_scale, drop_top_levels
from scaler.weight_map import layer_roles, map_weights
from scaler.weight_source import COCO_CLASSES, WeightSourceError, network_family, read_weight_source


def _point(**changes) -> ScalingPoint:
    values = {"depth_multiple": 0.33, "width_multiple": 0.125, "input_size": 128, **changes}
    return ScalingPoint(**values)


def _trained(point: ScalingPoint, seed: int = 0) -> nn.Module:
    """A network whose weights are not the initialisation (as if trained)."""
    torch.manual_seed(seed)
    model = build_model(point)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point() and "anchor" not in name:
                value.add_(0.05 * torch.randn_like(value))
                if name.endswith("running_var"):
                    value.abs_().add_(0.5)
    return model.eval()


def _outputs(model: nn.Module, image: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        _, raw = model.eval()(image)
    return raw


@pytest.mark.parametrize(
    "point",
    [_point(), _point(family="csp"), _point(stages=6), _point(family="tiny", input_size=64)],
    ids=["p5", "csp", "p6", "tiny"],
)
def test_a_point_mapped_onto_itself_is_identical(point):
    source = _trained(point)
    target = build_model(point)
    report = map_weights(target, source.spec, source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    assert not report.sliced and report.share == 1.0
    assert set(report.fresh) <= {key for key in source.state_dict() if "anchor" in key}


def test_p7_mapped_onto_its_p7_minus_p7_structure_equals_drop_top_levels():
    p7 = _trained(_point(stages=7, input_size=256))
    for count in (1, 2):
        shared = drop_top_levels(p7, count).eval()
        mapped = build_model(shared.spec)
        report = map_weights(mapped, p7.spec, p7.state_dict())
        assert not report.sliced
        image = torch.rand(1, 3, 256, 256)
        for expected, got in zip(_outputs(shared, image), _outputs(mapped, image), strict=True):
            assert torch.equal(expected, got)


def test_roles_follow_the_pyramid_not_the_layer_index():
    p5, p7 = (compound_scale(_point(stages=s)).to_network() for s in (5, 7))
    roles5, roles7 = layer_roles(p5), layer_roles(p7)
    assert roles5[0] == roles7[0] == "stem"
    for role in ("stage5.block", "spp", "td4.csp", "td3.csp", "bu4.csp", "bu5.csp", "out3", "out5"):
        assert role in roles5 and role in roles7
        assert roles5.index(role) != roles7.index(role) or role.startswith("stage")
    assert {"td6.csp", "bu7.csp", "out7"} <= set(roles7) and "out6" not in roles5


def test_a_shallower_stage_takes_the_first_blocks():
    source = _trained(_point(depth_exponents=(1, 2, 3, 3, 2), depth_multiple=1.0))
    target = build_model(_point(depth_exponents=(1, 1, 1, 1, 1), depth_multiple=1.0))
    map_weights(target, source.spec, source.state_dict())
    stage = layer_roles(source.spec).index("stage3.block")
    target_stage = layer_roles(target.spec).index("stage3.block")
    assert len(source.model[stage].m) == 7 and len(target.model[target_stage].m) == 1
    assert torch.equal(
        target.model[target_stage].m[0].cv1.conv.weight, source.model[stage].m[0].cv1.conv.weight
    )
    assert torch.equal(target.model[target_stage].cv4.conv.weight, source.model[stage].cv4.conv.weight)


def test_a_narrower_target_takes_the_most_important_channels_consistently():
    source = _trained(_point(width_multiple=0.5))  # widths round up to multiples of 8: stem 16 → 8
    target = build_model(_point(width_multiple=0.25))
    stem_source, stem_target = source.model[0], target.model[0]
    ranked = torch.argsort(stem_source.bn.weight.abs(), descending=True)[: stem_target.conv.out_channels]
    report = map_weights(target, source.spec, source.state_dict())
    assert torch.equal(stem_target.conv.weight, stem_source.conv.weight[ranked])
    assert torch.equal(stem_target.bn.running_var, stem_source.bn.running_var[ranked])
    # the next conv reads the stem's channels in the same order
    down_source, down_target = source.model[1], target.model[1]
    rows = torch.argsort(down_source.bn.weight.abs(), descending=True)[: down_target.conv.out_channels]
    assert torch.equal(down_target.conv.weight, down_source.conv.weight[rows][:, ranked])
    assert report.sliced and report.share == 1.0  # every value of a narrower network comes from the source


def test_concatenations_keep_each_part_with_its_own_channels():
    source = _trained(_point(width_multiple=0.25))
    target = build_model(_point(width_multiple=0.125))
    map_weights(target, source.spec, source.state_dict())
    index = layer_roles(source.spec).index("stage2.block")
    csp_source, csp_target = source.model[index], target.model[index]
    half_t, half_s = csp_target.cv3.out_channels, csp_source.cv3.out_channels
    # the concatenation batch norm's second half (cv2's space) comes from the source's second half
    second = set(csp_target.bn.running_mean[half_t:].tolist())
    assert second <= set(csp_source.bn.running_mean[half_s:].tolist())
    first = set(csp_target.bn.running_mean[:half_t].tolist())
    assert first <= set(csp_source.bn.running_mean[:half_s].tolist())


def test_tiny_split_keeps_each_half_of_the_partial_route():
    source = _trained(_point(family="tiny", input_size=64, width_multiple=0.5))
    target = build_model(_point(family="tiny", input_size=64, width_multiple=0.25))
    report = map_weights(target, source.spec, source.state_dict())
    assert report.sliced and not [key for key in report.fresh if "anchor" not in key]
    blocks = [i for i, layer in enumerate(source.spec.layers) if layer.block == "CSPOSA"]
    base = blocks[0] - 1  # the 3×3 conv whose second half the CSPOSA block reads
    half_s, half_t = source.model[base].conv.out_channels // 2, target.model[base].conv.out_channels // 2
    second = set(target.model[base].bn.running_mean[half_t:].tolist())
    assert second <= set(source.model[base].bn.running_mean[half_s:].tolist())


def test_head_maps_per_anchor_and_classes_by_name():
    source = _trained(_point(num_classes=3))
    target = build_model(_point(num_classes=2))
    report = map_weights(
        target,
        source.spec,
        source.state_dict(),
        source_classes=("cat", "dog", "bird"),
        target_classes=("bird", "cat"),
    )
    assert report.classes_mapped == 2
    head_s, head_t = source.detect.m[0], target.detect.m[0]
    outputs_s, outputs_t = 5 + 3, 5 + 2
    for anchor in range(4):
        rows_t = head_t.bias[anchor * outputs_t : (anchor + 1) * outputs_t]
        rows_s = head_s.bias[anchor * outputs_s : (anchor + 1) * outputs_s]
        assert torch.equal(rows_t[:5], rows_s[:5])
        assert rows_t[5] == rows_s[5 + 2] and rows_t[6] == rows_s[5 + 0]
    fresh_target = build_model(_point(num_classes=2))
    before = fresh_target.detect.m[0].bias.detach().clone().view(4, -1)
    map_weights(fresh_target, source.spec, source.state_dict(), ("a", "b", "c"), ("x", "y"))
    after = fresh_target.detect.m[0].bias.view(4, -1)
    assert torch.equal(after[:, 5:], before[:, 5:]) and not torch.equal(after[:, :5], before[:, :5])


def test_anchors_are_the_targets_own():
    source = _trained(_point())
    anchors = ((10.0, 13.0, 16.0, 30.0, 33.0, 23.0, 40.0, 40.0),) * 3
    target = build_model(_point(anchors=anchors))
    before = target.detect.anchor_grid.clone()
    map_weights(target, source.spec, source.state_dict())
    assert torch.equal(target.detect.anchor_grid, before)


def _released_checkpoint(path, model, monkeypatch, names=None):
    """A checkpoint pickled as the reference writes it: a models.yolo.Model carrying its yaml and names."""
    yolo = types.ModuleType("models.yolo")
    model_class = type("Model", (nn.Module,), {"__module__": "models.yolo"})
    yolo.Model = model_class
    for name, module in {"models": types.ModuleType("models"), "models.yolo": yolo}.items():
        monkeypatch.setitem(sys.modules, name, module)
    reference = model_class()
    reference.model = model.model
    import yaml

    from scaler import dump_model_yaml

    reference.yaml = yaml.safe_load(dump_model_yaml(model.spec))
    reference.names = list(names or COCO_CLASSES[: model.spec.num_classes])
    torch.save({"epoch": 299, "best_fitness": None, "model": reference, "optimizer": None}, path)
    monkeypatch.delitem(sys.modules, "models.yolo")
    monkeypatch.delitem(sys.modules, "models")


def test_a_released_format_checkpoint_maps_onto_every_member_of_its_family(tmp_path, monkeypatch):
    p7 = _trained(_point(stages=7, width_multiple=0.25, input_size=128, num_classes=80))
    path = tmp_path / "yolov4-p7.pt"
    _released_checkpoint(path, p7, monkeypatch)
    source = read_weight_source(path)
    assert source.family == "large" and source.class_names == COCO_CLASSES
    image = torch.rand(1, 3, 128, 128)
    for stages in (5, 6, 7):
        for width in (0.125, 0.25, 0.375):
            target = build_model(_point(stages=stages, width_multiple=width, num_classes=3))
            report = map_weights(
                target, source.spec, source.state, source.class_names, ("car", "dog", "zebra")
            )
            assert report.classes_mapped == 3
            assert report.share > (
                0.5 if width <= 0.25 else 0.3
            )  # a wider target keeps its extra channels fresh
            assert all(torch.isfinite(level).all() for level in _outputs(target, image))


def test_a_bare_state_dict_of_unknown_structure_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(build_model(_point()).state_dict(), path)
    with pytest.raises(WeightSourceError, match="cannot tell which network"):
        read_weight_source(path)


def test_network_family_is_read_from_the_blocks():
    for family in ("large", "csp", "tiny"):
        point = _point(family=family, input_size=64 if family == "tiny" else 128)
        assert network_family(compound_scale(point).to_network()) == family
