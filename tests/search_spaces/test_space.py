"""Search-space axes, sampling, mutation and parent selection."""

from __future__ import annotations

import numpy as np
import pytest

from search_spaces import Parameter, load_job_spec, scaling_values
from search_spaces.hyp_meta import HYP_DEFAULTS, HYP_META
from search_spaces.mutation import Evaluated, combine, mutate, parent_order, sample_point, select_parents
from search_spaces.space import ACTIVATIONS, FAMILIES


def test_tables_match_the_training_and_scaling_code():
    from scaler.blocks.activations import ACTIVATIONS as SCALER_ACTIVATIONS
    from scaler.scaling.point import FAMILIES as SCALER_FAMILIES
    from workers.training.hyp import Hyperparameters

    assert Hyperparameters().to_dict() == HYP_DEFAULTS
    assert set(HYP_META) == set(HYP_DEFAULTS)
    assert FAMILIES == SCALER_FAMILIES
    assert ACTIVATIONS == SCALER_ACTIVATIONS


def test_samples_stay_inside_every_axis():
    parameters = load_job_spec("p5-p7-large").space.parameters()
    rng = np.random.default_rng(0)
    for _ in range(200):
        point = sample_point(parameters, rng)
        for parameter in parameters:
            value = point[parameter.name]
            if parameter.kind == "choice":
                assert value in parameter.choices
            else:
                assert parameter.low <= value <= parameter.high


def test_mutation_respects_limits_and_moves_a_zero_valued_key():
    parameters = [
        Parameter(name="hyp/degrees", kind="float", low=0.0, high=45.0, gain=1.0),
        Parameter(name="hyp/lr0", kind="float", low=1e-5, high=0.1, gain=1.0),
        Parameter(name="hyp/fl_gamma", kind="float", low=0.0, high=2.0, gain=0.0),
    ]
    rng = np.random.default_rng(1)
    parent = {"hyp/degrees": 0.0, "hyp/lr0": 0.1, "hyp/fl_gamma": 0.0}
    moved_from_zero = 0
    for _ in range(300):
        child = mutate(parent, parameters, rng, mutation_probability=0.9, sigma=0.2)
        assert 0.0 <= child["hyp/degrees"] <= 45.0
        assert 1e-5 <= child["hyp/lr0"] <= 0.1  # an upward move from the upper limit is clipped
        assert child["hyp/fl_gamma"] == 0.0  # gain 0: never mutated (as the reference)
        assert child != parent
        moved_from_zero += child["hyp/degrees"] > 0
    assert moved_from_zero > 50  # the reference's x·v could never leave 0


def test_mutation_of_a_large_value_is_the_reference_multiplicative_rule():
    parameter = Parameter(name="hyp/lr0", kind="float", low=1e-5, high=1.0, gain=1.0)
    rng = np.random.default_rng(2)
    ratios = [mutate({"hyp/lr0": 0.5}, [parameter], rng)["hyp/lr0"] / 0.5 for _ in range(300)]
    assert min(ratios) >= 0.3 - 1e-9 and max(ratios) <= 2.0 + 1e-9  # clipped factor, then the upper limit


def test_categorical_axes_step_to_a_neighbouring_choice():
    parameter = Parameter(name="arch/input_size", kind="choice", choices=(128, 160, 192, 224, 256))
    rng = np.random.default_rng(3)
    for _ in range(50):
        child = mutate({"arch/input_size": 192}, [parameter], rng)
        assert child["arch/input_size"] in (160, 224)


def test_parents_are_the_pareto_best_and_weights_favour_rank():
    history = [
        Evaluated({"x": 1.0}, (-0.5, 10.0)),  # front
        Evaluated({"x": 2.0}, (-0.3, 5.0)),  # front
        Evaluated({"x": 3.0}, (-0.2, 20.0)),  # dominated
        Evaluated({"x": 4.0}, (-0.1, 30.0)),  # dominated twice
    ]
    parents, weights = select_parents(history, top=2)
    assert {p.point["x"] for p in parents} == {1.0, 2.0}
    assert weights == [2.0, 1.0]
    single, single_weights = select_parents(
        [Evaluated({"x": 1.0}, (-0.4,)), Evaluated({"x": 2.0}, (-0.2,))], 5
    )
    assert single[0].point["x"] == 1.0 and single_weights[0] > single_weights[1]
    axis = Parameter(name="x", kind="float", low=0.0, high=10.0)
    mean = combine(parents, [1.0, 1.0], [axis], np.random.default_rng(0), selection="weighted")
    assert mean["x"] == pytest.approx(1.5)


def test_scaling_values_turn_a_point_into_scaling_point_fields():
    point = {
        "arch/family": "large",
        "arch/input_size": 640,
        "arch/stages": 5,
        "arch/depth_exponent_0": 1,
        "arch/depth_exponent_1": 2,
        "arch/depth_exponent_2": 4,
        "arch/depth_exponent_3": 4,
        "arch/depth_exponent_4": 3,
        "arch/depth_exponent_5": 3,
        "arch/width_multiple": 1.0,
        "hyp/lr0": 0.01,
    }
    values = scaling_values(point)
    assert values["depth_exponents"] == (1, 2, 4, 4, 3)
    assert values["input_size"] == 640 and "lr0" not in values


def test_parents_come_from_the_highest_fidelity_before_pareto_rank():
    history = [
        Evaluated({"x": 1.0}, (-0.01, 3.0), fidelity=3),  # stopped at a rung: fast, AP still noise
        Evaluated({"x": 2.0}, (-0.02, 9.0), fidelity=3),
        Evaluated({"x": 3.0}, (-0.05, 6.0), fidelity=9),  # promoted once, then stopped
        Evaluated({"x": 4.0}, (-0.30, 12.0), fidelity=18),  # trained to the end
        Evaluated({"x": 5.0}, (-0.20, 8.0), fidelity=18),
        Evaluated({"x": 6.0}, (-0.10, 14.0), fidelity=18),  # dominated by x=4
    ]
    # on one Pareto order the 3-epoch trial at 3 ms would be on the front and breed
    assert [history[index].point["x"] for index in parent_order(history)] == [4.0, 5.0, 6.0, 3.0, 1.0, 2.0]
    parents, _ = select_parents(history, top=3)
    assert {parent.point["x"] for parent in parents} == {4.0, 5.0, 6.0}
    early, _ = select_parents(history[:3], top=2)  # before any trial finishes: the rung's survivor first
    assert [parent.point["x"] for parent in early] == [3.0, 1.0]


def test_a_child_keeps_its_parents_choices_most_of_the_time():
    size = Parameter(name="arch/input_size", kind="choice", choices=(64, 96))
    rate = Parameter(name="hyp/lr0", kind="float", low=0.001, high=0.01)
    parent = {"arch/input_size": 96, "hyp/lr0": 0.004}
    rng = np.random.default_rng(0)
    children = [mutate(parent, [size, rate], rng) for _ in range(2000)]
    flipped = sum(child["arch/input_size"] != 96 for child in children) / len(children)
    # the default choice_probability, 0.2 (a bit more: a child equal to its parent is redrawn); it was 0.8
    assert 0.18 < flipped < 0.3
    always = [mutate(parent, [size, rate], rng, choice_probability=1.0) for _ in range(50)]
    assert all(child["arch/input_size"] == 64 for child in always)
    never = [mutate(parent, [size, rate], rng, choice_probability=0.0) for _ in range(50)]
    assert all(child["arch/input_size"] == 96 for child in never)
