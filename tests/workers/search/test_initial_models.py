"""Initial points written as model yamls (``space.initial_points: [{model: PATH}]``): a yaml that
``scaler`` wrote for a point of the space becomes that point, evaluated first; a yaml whose network
is no point of the space, or that lies outside the data roots, is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler import dump_model_yaml
from search_spaces import SpecLoadError, load_job_spec, parse_job_spec
from workers.data.roots import DataRoots, OutsideRootsError
from workers.results import TrialReport, TrialStatus
from workers.search.initial_models import InitialModelError, resolve_initial_models
from workers.search.points import flatten, trial_config
from workers.search.searchers import make_searcher
from workers.trial import build_network

POINT = {"arch/input_size": 160, "arch/depth_multiple": 0.33, "arch/width_multiple": 0.25}
POINT_ARCH = {**POINT, "arch/activation": "leaky"}


def tiny_cpu_spec(dataset: Path, initial_points: list[dict]) -> object:
    document = load_job_spec("tiny-cpu").model_dump(mode="json")
    document.update(dataset=str(dataset), searcher="random", scheduler="fifo")
    document["space"]["initial_points"] = initial_points
    return parse_job_spec(document)


def written_yaml(folder: Path, dataset: Path) -> Path:
    """The model yaml of POINT_ARCH in tiny-cpu's space, as ``scaler model export`` writes it."""
    spec = tiny_cpu_spec(dataset, [])
    network = build_network(trial_config(spec, {**spec.space.default_point(), **POINT_ARCH}), 3)
    path = folder / "candidate.yaml"
    path.write_text(dump_model_yaml(network))
    return path


def test_a_written_yaml_becomes_its_point_and_is_evaluated_first(synth_dataset: Path, tmp_path: Path):
    path = written_yaml(tmp_path, synth_dataset)
    spec = tiny_cpu_spec(synth_dataset, [{"arch/input_size": 128}, {"model": str(path), "hyp/lr0": 0.002}])
    resolved = resolve_initial_models(spec, DataRoots.of([tmp_path]))
    point = resolved.space.initial_points[1]
    assert point["arch/family"] == "large" and point["arch/stages"] == 5
    assert point["arch/activation"] == "leaky" and point["hyp/lr0"] == 0.002
    assert point["arch/input_size"] == 160  # the yaml's own
    # the multiples it found make the very network the yaml holds
    ours = build_network(trial_config(resolved, point), 3)
    theirs = build_network(trial_config(resolved, {**point, **POINT}), 3)
    assert ours.layers == theirs.layers
    search = make_searcher(resolved)
    assert flatten(search.suggest("t0"))["arch/input_size"] == 128
    done = TrialReport(status=TrialStatus.COMPLETED, final=True, ap=0.1, latency_ms=5.0)
    search.on_trial_complete("t0", done.to_metrics())
    assert flatten(search.suggest("t1")) == pytest.approx(point)


def test_a_yaml_with_a_foreign_layer_is_refused_naming_the_field(synth_dataset: Path, tmp_path: Path):
    path = written_yaml(tmp_path, synth_dataset)
    lines = path.read_text().splitlines()
    lines = [line.replace("[64, 1, 1]]", "[64, 3, 1]]") if line.endswith("# 14") else line for line in lines]
    path.write_text("\n".join(lines))
    spec = tiny_cpu_spec(synth_dataset, [{}, {}, {"model": str(path)}])
    with pytest.raises(InitialModelError) as caught:
        resolve_initial_models(spec, DataRoots.of([tmp_path]))
    assert caught.value.field == "space.initial_points[2].model"
    assert "layer 14 differs from large-p5 at depth" in caught.value.message, caught.value.message


def test_a_yaml_outside_the_data_roots_is_refused(synth_dataset: Path, tmp_path: Path):
    path = written_yaml(tmp_path, synth_dataset)
    spec = tiny_cpu_spec(synth_dataset, [{"model": str(path)}])
    with pytest.raises(OutsideRootsError) as caught:
        resolve_initial_models(spec, DataRoots.of([synth_dataset]))
    assert caught.value.source == "space.initial_points[0].model"
    assert "outside the allowed data roots" in caught.value.problems[0]


def test_a_model_entry_names_only_the_input_size_and_hyperparameters(synth_dataset: Path):
    with pytest.raises(SpecLoadError) as caught:
        tiny_cpu_spec(synth_dataset, [{"model": "a.yaml", "arch/width_multiple": 0.25}])
    assert caught.value.field == "space.initial_points[0]"
    assert "arch/width_multiple is set by the model yaml" in caught.value.message
