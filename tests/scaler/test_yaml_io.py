"""Model yaml: users' reference-format files build the same network; export round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scaler import (
    PRESETS,
    ScalingPoint,
    SpecError,
    build_model,
    compound_scale,
    count_parameters,
    dump_model_yaml,
    load_model_yaml,
)

DATA = Path(__file__).parent / "data"
REFERENCE_P5 = DATA / "yolov4-p5-reference-style.yaml"


def _shapes(model):
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def test_reference_style_p5_yaml_builds_the_preset_network():
    from_yaml = build_model(load_model_yaml(REFERENCE_P5))
    preset = build_model("yolov4-p5")
    assert count_parameters(from_yaml) == 70_834_012
    assert _shapes(from_yaml) == _shapes(preset)
    assert list(from_yaml.state_dict())[:3] == ["model.0.conv.weight", "model.0.bn.weight", "model.0.bn.bias"]
    assert "model.31.anchors" in from_yaml.state_dict() and "model.31.anchor_grid" in from_yaml.state_dict()
    assert "model.6.m.14.cv2.conv.weight" in from_yaml.state_dict()


def test_reference_yaml_scaled_to_p7_width_applies_the_width_rule():
    document = yaml.safe_load(REFERENCE_P5.read_text())
    document["width_multiple"] = 1.25
    document["depth_multiple"] = 1.33
    spec = load_model_yaml(document)
    expected = compound_scale(ScalingPoint(depth_multiple=1.33, width_multiple=1.25))
    assert [spec.layers[i].args.out_channels for i in (2, 4, 6, 8, 10)] == [
        s.out_channels for s in expected.stages
    ]
    assert [spec.layers[i].repeats for i in (2, 4, 6, 8, 10)] == [1, 4, 20, 20, 9]
    assert spec.layers[11].args.out_channels == 640
    assert _shapes(build_model(spec)) == _shapes(build_model(expected.to_network()))


ROUND_TRIP = [
    *PRESETS.values(),
    ScalingPoint(stages=6, depth_multiple=0.33, width_multiple=0.25, input_size=640),
    ScalingPoint(family="csp", depth_multiple=0.67, width_multiple=0.75, activation="leaky"),
    ScalingPoint(stages=8, depth_exponents=(1, 1, 2, 2, 1, 1, 1, 1), width_multiple=0.125, input_size=512),
    ScalingPoint(family="tiny", width_multiple=0.5, num_classes=7),
]


@pytest.mark.parametrize("point", ROUND_TRIP, ids=lambda p: p.name or f"{p.family}-{p.stages}")
def test_export_then_import_gives_the_identical_network(point, tmp_path):
    spec = compound_scale(point).to_network()
    path = tmp_path / "model.yaml"
    path.write_text(dump_model_yaml(spec))
    again = load_model_yaml(path)
    assert again == spec
    if point.width_multiple <= 0.5:  # building the big ones twice adds nothing the spec equality misses
        assert _shapes(build_model(again)) == _shapes(build_model(spec))


def test_exported_yaml_uses_reference_module_names_and_tokens():
    text = dump_model_yaml(build_model("yolov4-p5").spec)
    document = yaml.safe_load(text)
    assert document["nc"] == 80 and document["depth_multiple"] == 1.0
    assert document["head"][2] == [-1, 1, "nn.Upsample", ["None", 2, "nearest"]]
    assert document["head"][-1] == [[22, 26, 30], 1, "Detect", ["nc", "anchors"]]
    assert document["backbone"][0] == [-1, 1, "Conv", [32, 3, 1]]


def test_yolov5_style_anchor_count_generates_priors():
    document = yaml.safe_load(REFERENCE_P5.read_text())
    document["anchors"] = 3
    spec = load_model_yaml(document)
    assert spec.num_anchors == 3 and spec.num_levels == 3


def test_per_layer_activation_override_round_trips():
    document = yaml.safe_load(REFERENCE_P5.read_text())
    document["head"][1] = [-1, 1, "Conv", [256, 1, 1], {"activation": "leaky"}]
    document["activation"] = "nn.SiLU()"
    spec = load_model_yaml(document)
    assert spec.activation == "silu" and spec.layers[12].activation == "leaky"
    assert load_model_yaml(dump_model_yaml(spec)) == spec
    model = build_model(spec)
    assert type(model.model[12].act).__name__ == "LeakyReLU"
    assert type(model.model[11].cv1.act).__name__ == "SiLU"


def _broken(mutate):
    document = yaml.safe_load(REFERENCE_P5.read_text())
    mutate(document)
    return document


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_broken(lambda d: d.update(nc=0)), "nc"),
        (_broken(lambda d: d.update(nc="eighty")), "nc"),
        (_broken(lambda d: d.update(depth_multiple=-1)), "depth_multiple"),
        (_broken(lambda d: d.update(width_multiple="wide")), "width_multiple"),
        (_broken(lambda d: d.update(activation="gelu")), "activation"),
        (_broken(lambda d: d.pop("backbone")), "backbone"),
        (_broken(lambda d: d.update(head=[])), "head"),
        (
            _broken(lambda d: d["backbone"].__setitem__(3, [-1, 1, "__import__('os').system", ["ls"]])),
            "backbone[3].module",
        ),
        (_broken(lambda d: d["backbone"].__setitem__(3, [-1, 1, "Conv"])), "backbone[3]"),
        (_broken(lambda d: d["backbone"].__setitem__(3, ["x", 1, "Conv", [128, 3, 2]])), "backbone[3].from"),
        (
            _broken(lambda d: d["backbone"].__setitem__(3, [-1, -2, "Conv", [128, 3, 2]])),
            "backbone[3].number",
        ),
        (_broken(lambda d: d["backbone"].__setitem__(3, [-1, 1, "Conv", "128"])), "backbone[3].args"),
        (
            _broken(lambda d: d["backbone"].__setitem__(3, [-1, 1, "Conv", [128, "three", 2]])),
            "backbone[3].args[1]",
        ),
        (
            _broken(lambda d: d["backbone"].__setitem__(3, [-1, 1, "Conv", [128, 3, 2, 1, True, 9]])),
            "backbone[3].args",
        ),
        (_broken(lambda d: d["head"].__setitem__(3, [40, 1, "Conv", [256, 1, 1]])), "layers[14].source"),
        (_broken(lambda d: d.update(anchors=[[1, 2, 3]])), "anchors"),
        (_broken(lambda d: d["head"].__setitem__(-1, [[22, 26, 30], 1, "Detect", ["nc"]])), "head[20].args"),
        (_broken(lambda d: d["head"].append([-1, 1, "Conv", [8, 1, 1]])), "layers"),
    ],
)
def test_bad_yaml_is_rejected_naming_the_field(document, field):
    with pytest.raises(SpecError) as error:
        load_model_yaml(document)
    assert error.value.field == field


def test_unreadable_inputs(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_model_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("nc: [unclosed\n")
    with pytest.raises(SpecError, match="not valid yaml"):
        load_model_yaml(bad)
    with pytest.raises(SpecError, match="mapping"):
        load_model_yaml("- just\n- a list\n")
