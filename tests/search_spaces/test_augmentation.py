"""`space.hyperparameters.augmentation`: every augmentation strength searched within the reference
meta table's limits, merged with `search`, and able to leave 0 under mutation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from search_spaces import JobSpec, SpecLoadError, load_job_spec, parse_job_spec
from search_spaces.hyp_meta import AUGMENTATION_KEYS, HYP_META
from search_spaces.mutation import mutate, sample_point


def _spec(**hyperparameters: Any) -> JobSpec:
    return parse_job_spec({"space": {"hyperparameters": hyperparameters}})


def _hyp_axes(spec: JobSpec) -> dict[str, Any]:
    return {p.name[4:]: p for p in spec.space.parameters() if p.name.startswith("hyp/")}


def test_augmentation_searches_every_strength_within_the_meta_table():
    assert _hyp_axes(_spec()) == {}  # off by default
    axes = _hyp_axes(_spec(augmentation=True, search=["lr0"]))
    assert list(axes) == ["lr0", *AUGMENTATION_KEYS]
    for key in AUGMENTATION_KEYS:
        meta = HYP_META[key]
        assert (axes[key].low, axes[key].high) == (meta.lower, meta.upper)
        assert axes[key].gain > 0  # the reference freezes perspective and fliplr; asked for, they move
        if meta.gain:
            assert axes[key].gain == meta.gain
    assert _hyp_axes(_spec(search=["perspective"]))["perspective"].gain == 0  # without it: the table's


def test_a_strength_also_listed_in_search_keeps_its_overrides():
    axes = _hyp_axes(
        _spec(augmentation=True, search={"degrees": {"upper": 10.0}, "mixup": {"gain": 0}, "hsv_h": None})
    )
    assert list(axes).count("degrees") == 1 and len(axes) == len(AUGMENTATION_KEYS)
    assert axes["degrees"].high == 10.0 and axes["degrees"].low == HYP_META["degrees"].lower
    assert axes["mixup"].gain == 0  # an explicit gain 0 still freezes a strength
    assert axes["hsv_h"].high == HYP_META["hsv_h"].upper


def test_a_base_strength_outside_the_meta_limits_names_its_field():
    with pytest.raises(SpecLoadError) as caught:
        _spec(augmentation=True, base={"degrees": 50.0})
    assert caught.value.field == "space.hyperparameters.base.degrees"
    assert "augmentation: true" in caught.value.message and "45.0" in caught.value.message
    assert _spec(base={"degrees": 50.0}).space.hyperparameters.value("degrees") == 50.0  # not searched
    with pytest.raises(SpecLoadError) as caught:
        _spec(augmentation="yes")
    assert caught.value.field == "space.hyperparameters.augmentation"


def test_the_spec_round_trips_and_the_preset_evolves_from_the_short_recipe():
    spec = load_job_spec("tiny-cpu-augment")
    assert JobSpec.model_validate_json(spec.model_dump_json()) == spec
    assert spec.space.hyperparameters.augmentation and spec.searcher == "evolve"
    tiny = load_job_spec("tiny-cpu")
    assert spec.space.architecture == tiny.space.architecture
    assert set(tiny.space.hyperparameters.search) < set(_hyp_axes(spec))
    assert set(AUGMENTATION_KEYS) <= set(_hyp_axes(spec))


def test_every_strength_that_starts_at_zero_leaves_it_under_mutation():
    spec = load_job_spec("tiny-cpu-augment")
    parameters = spec.space.parameters()
    axes = _hyp_axes(spec)
    start = spec.space.default_point()
    at_zero = [key for key in AUGMENTATION_KEYS if start[f"hyp/{key}"] == 0]
    assert {"degrees", "shear", "perspective", "flipud", "mixup", "mosaic"} <= set(at_zero)
    rng = np.random.default_rng(0)
    children = [mutate(start, parameters, rng) for _ in range(300)]
    for key in at_zero:  # the reference's x·v keeps a 0 at 0 for ever
        moved = sum(child[f"hyp/{key}"] > 0 for child in children)
        assert moved > 15, (key, moved)
    # and a line of descent drifts off 0 and stays inside the limits
    point = start
    for _ in range(40):
        point = mutate(point, parameters, rng)
        for key in AUGMENTATION_KEYS:
            assert axes[key].low <= point[f"hyp/{key}"] <= axes[key].high
    assert sum(point[f"hyp/{key}"] > 0 for key in at_zero) >= len(at_zero) // 2
    for _ in range(100):  # the random searchers draw within the same limits
        drawn = sample_point(parameters, rng)
        assert all(axes[key].low <= drawn[f"hyp/{key}"] <= axes[key].high for key in AUGMENTATION_KEYS)
