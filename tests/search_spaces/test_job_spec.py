"""Job specs: presets load, and every kind of bad input names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces import (
    JobSpec,
    SpecLoadError,
    load_job_spec,
    parse_job_spec,
    parse_weights_reference,
    parse_yaml,
    preset_names,
)


def test_the_three_presets_load_with_their_spaces():
    assert {"tiny-cpu", "p5-p7-large", "hyp-evolve"} <= set(preset_names())
    large = load_job_spec("p5-p7-large")
    assert large.space.architecture.stages == (5, 6, 7)
    assert 1536 in large.space.architecture.input_size
    assert large.objectives.latency.device == "cuda" and large.budget.gpus_per_trial == 1
    evolve = load_job_spec("hyp-evolve")
    searched = {p.name for p in evolve.space.parameters() if p.name.startswith("hyp/")}
    assert {"hyp/lr0", "hyp/mosaic", "hyp/mixup", "hyp/anchor_t"} <= searched
    assert evolve.searcher == "evolve" and evolve.objectives.accuracy == "fitness"
    tiny = load_job_spec("tiny-cpu", dataset="/data/synth")
    assert tiny.dataset == "/data/synth" and tiny.objectives.latency.device == "cpu"


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"searcher": "bayes"}, "searcher", "unknown"),
        ({"scheduler": "hyperband"}, "scheduler", "unknown"),
        ({"space": {"architecture": {"stages": [9]}}}, "space.architecture.stages", "outside"),
        (
            {"space": {"architecture": {"input_size": [100]}}},
            "space.architecture.input_size",
            "multiple of 32",
        ),
        (
            {"space": {"architecture": {"stages": [5, 7], "input_size": [576]}}},
            "space.architecture.input_size",
            "128",
        ),
        ({"space": {"architecture": {"family": ["p9"]}}}, "space.architecture.family", "unknown family"),
        (
            {"space": {"architecture": {"width_multiple": {"low": 1.0, "high": 0.5}}}},
            "space.architecture.width_multiple",
            "above",
        ),
        (
            {"space": {"hyperparameters": {"search": ["learning_rate"]}}},
            "space.hyperparameters.search",
            "unknown",
        ),
        (
            {"space": {"hyperparameters": {"base": {"lr0": 0.5}, "search": ["lr0"]}}},
            "space.hyperparameters.base.lr0",
            "outside",
        ),
        ({"budget": {"max_trials": 0}}, "budget.max_trials", "greater than or equal"),
        ({"objectives": {"latency": {"device": "TPU v4!"}}}, "objectives.latency.device", "cpu"),
        ({"objectives": {"latency": {"device": "cuda:x"}}}, "objectives.latency.device", "registered"),
        (
            {"objectives": {"latency": {"device": "cpu-onnxruntime", "batch": 8}}},
            "objectives.latency.batch",
            "sets its own batch",
        ),
        ({"objectives": {"latency": {"precision": "fp16"}}}, "objectives.latency.precision", "CUDA"),
        ({"objectives": {"latency": {"device": "cuda"}}}, "budget.gpus_per_trial", "whole GPU"),
        ({"budget": {"gpus_per_trial": 2}}, "budget.gpus_per_trial", "several GPUs is not supported"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        (
            {"searcher": "nsga2", "evolution": {"inherit_weights": True}},
            "evolution.inherit_weights",
            "evolve searcher",
        ),
        (
            {"searcher": "evolve", "evolution": {"inherited_epochs": 99}, "budget": {"epochs_per_trial": 9}},
            "evolution.inherited_epochs",
            "at most",
        ),
    ],
)
def test_bad_specs_name_the_field(document, field, words):
    with pytest.raises(SpecLoadError) as caught:
        parse_job_spec(document)
    assert caught.value.field == field
    assert words in caught.value.message


def test_yaml_errors_and_missing_files_are_spec_errors(tmp_path: Path):
    with pytest.raises(SpecLoadError, match="not valid YAML"):
        parse_yaml("space: [unclosed")
    with pytest.raises(SpecLoadError) as caught:
        load_job_spec(tmp_path / "missing.yaml")
    assert caught.value.field == "spec"
    with pytest.raises(SpecLoadError) as caught:
        load_job_spec("no-such-preset")
    assert caught.value.field == "preset"


def test_a_spec_round_trips_through_json():
    spec = load_job_spec("p5-p7-large")
    assert JobSpec.model_validate_json(spec.model_dump_json()) == spec


def test_successive_halving_rungs_and_their_learning_rate_schedule():
    spec = parse_job_spec(
        {"scheduler": "moasha", "budget": {"epochs_per_trial": 18}, "scheduling": {"grace_period": 2}}
    )
    assert spec.scheduling.rungs(18) == [2, 6]
    assert spec.scheduling.lr_schedule == "run" and spec.scheduling.rung_metric == "accuracy"
    with pytest.raises(SpecLoadError) as caught:
        parse_job_spec({"scheduling": {"lr_schedule": "step"}})
    assert caught.value.field == "scheduling.lr_schedule"


def test_the_trials_a_budget_will_run_count_successive_halving():
    base = {"budget": {"max_trials": 144, "epochs_per_trial": 18, "max_trial_epochs": 144}}
    fifo = parse_job_spec({**base, "scheduler": "fifo"})
    assert fifo.mean_trial_epochs() == 18 and fifo.expected_trials() == 8
    halving = parse_job_spec(
        {**base, "scheduler": "moasha", "scheduling": {"grace_period": 3, "reduction_factor": 3}}
    )
    # rungs 3, 9: every trial trains 3 epochs, a third 6 more, a ninth the last 9
    assert halving.mean_trial_epochs() == pytest.approx(6.0)
    assert halving.expected_trials() == 24
    unbounded = halving.with_changes(budget={"max_trials": 144, "epochs_per_trial": 18})
    assert unbounded.expected_trials() == 144


def test_an_inheriting_budget_counts_its_children_at_their_own_epochs():
    base = {"budget": {"max_trials": 144, "epochs_per_trial": 18, "max_trial_epochs": 144}}
    one_start = parse_job_spec({**base, "evolution": {"initial_random": 0, "inherit_weights": True}})
    # the default point from scratch (18), then children of 6 epochs: 1 + 126 / 6
    assert one_start.expected_trials() == 22
    two_starts = parse_job_spec({**base, "evolution": {"initial_random": 1, "inherit_weights": True}})
    assert two_starts.expected_trials() == 2 + 108 // 6
    short = {**base["budget"], "max_trial_epochs": 30}
    one_child_budget = parse_job_spec({"budget": short, "evolution": {"inherit_weights": True}})
    assert one_child_budget.expected_trials() == 1 + 12 // 6
    # the budget runs out among the scratch trials: no child is counted
    scratch_only = one_child_budget.with_changes(evolution={"initial_random": 2, "inherit_weights": True})
    assert scratch_only.expected_trials() == 1


def test_the_inheriting_preset_evolves_tiny_cpus_space_from_one_scratch_start():
    inherit = load_job_spec("tiny-cpu-inherit", dataset="/data/synth")
    tiny = load_job_spec("tiny-cpu", dataset="/data/synth")
    assert inherit.space == tiny.space and inherit.objectives == tiny.objectives
    assert inherit.searcher == "evolve" and inherit.scheduler == "fifo"
    assert inherit.evolution.inherit_weights and inherit.evolution.initial_random == 0
    # 6 epochs from scratch, then children of 2 within the 24 trial-epochs
    assert inherit.evolution.child_epochs(inherit.budget.epochs_per_trial) == 2
    assert inherit.expected_trials() == 10


def test_an_inheriting_child_trains_a_third_of_a_trial_unless_told():
    spec = load_job_spec("tiny-cpu")
    assert spec.evolution.child_epochs(18) == 6 and spec.evolution.child_epochs(10) == 4
    assert spec.evolution.child_epochs(1) == 1
    told = spec.evolution.model_copy(update={"inherited_epochs": 5})
    assert told.child_epochs(18) == 5


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        ("/data/weights/yolov4-p5.pt", None),
        ("runs/export-3", None),
        ("./job:odd-folder", None),  # a path that begins with job: is written ./job:…
        ("job:3f9c", ("3f9c", None)),
        ("job:3f9c/trial_0007", ("3f9c", "trial_0007")),
    ],
)
def test_initial_weights_are_a_path_or_an_earlier_jobs_trial(value, reference):
    spec = parse_job_spec({"training": {"initial_weights": value}})
    assert spec.training.initial_weights == value
    assert parse_weights_reference(value) == reference
    assert JobSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("job:", "names no job"),
        ("job:/trial_1", "names no job"),
        ("job:abc/", "one '/'"),
        ("job:abc/trial/extra", "one '/'"),
        ("weights\x00.pt", "control characters"),
        ("two\nlines.pt", "control characters"),
        ("\x1b[31mred.pt", "control characters"),
        ("", "at least 1 character"),  # an empty path names nothing
        ("/" + "w" * 4096, "at most 4096"),
    ],
)
def test_bad_initial_weights_name_the_field(value, words):
    with pytest.raises(SpecLoadError) as caught:
        parse_job_spec({"training": {"initial_weights": value}})
    assert caught.value.field == "training.initial_weights"
    assert words in caught.value.message


def test_supernet_and_finalize_settings():
    assert parse_job_spec({}).supernet is None and parse_job_spec({}).finalize is None
    spec = parse_job_spec({"supernet": {}, "finalize": {"epochs": 30}, "budget": {"epochs_per_trial": 4}})
    assert spec.supernet is not None and spec.finalize is not None
    assert (spec.supernet.epochs, spec.supernet.fine_tune_epochs, spec.supernet.sandwich) == (10, 0, True)
    assert spec.finalize.epochs == 30
    from_weights = parse_job_spec(
        {
            "supernet": {"epochs": 0, "fine_tune_epochs": 4, "sandwich": False},
            "training": {"initial_weights": "job:3f9c"},
            "budget": {"epochs_per_trial": 4},
        }
    )
    assert from_weights.supernet is not None and from_weights.supernet.epochs == 0
    assert JobSpec.model_validate_json(from_weights.model_dump_json()) == from_weights


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"supernet": {"epochs": 0}}, "supernet.epochs", "training.initial_weights"),
        ({"supernet": {"epochs": -1}}, "supernet.epochs", "greater than or equal"),
        ({"supernet": {"epochs": 10_001}}, "supernet.epochs", "less than or equal"),
        (
            {"supernet": {"fine_tune_epochs": 5}, "budget": {"epochs_per_trial": 4}},
            "supernet.fine_tune_epochs",
            "at most budget.epochs_per_trial",
        ),
        ({"supernet": {"fine_tune_epochs": -1}}, "supernet.fine_tune_epochs", "greater than or equal"),
        ({"supernet": {"sandwich": 1}}, "supernet.sandwich", "boolean"),
        ({"supernet": {"layers": 3}}, "supernet.layers", "Extra inputs"),
        (
            {"supernet": {}, "space": {"architecture": {"family": ["large", "csp"]}}},
            "supernet",
            "one space.architecture.family",
        ),
        ({"finalize": {}}, "finalize.epochs", "required"),
        ({"finalize": {"epochs": 0}}, "finalize.epochs", "greater than or equal"),
        ({"finalize": {"epochs": 10_001}}, "finalize.epochs", "less than or equal"),
    ],
)
def test_bad_supernet_and_finalize_settings_name_the_field(document, field, words):
    with pytest.raises(SpecLoadError) as caught:
        parse_job_spec(document)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_share_of_a_gpu_trains_on_the_gpu():
    """A fractional ``gpus_per_trial`` (trials sharing a GPU) trains on it, as it is billed; no GPU
    per trial trains on the CPU."""
    from workers.search.points import trial_config

    for share, device in ((0.25, "cuda"), (1, "cuda"), (0, "cpu")):
        spec = parse_job_spec({"budget": {"gpus_per_trial": share}})
        assert trial_config(spec, spec.space.default_point()).device == device, share
