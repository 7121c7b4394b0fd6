"""Preset files: a part such as the short CPU recipe is written once and included, its includer's
own keys win, a missing or cyclic include is a clear error, and moving the recipe into its own file
changed no preset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from search_spaces import (
    SHORT_RECIPE_PART,
    SpecLoadError,
    load_job_spec,
    parse_job_spec,
    preset_document,
    preset_names,
)
from search_spaces.budget import TrainingSettings

RECIPE = SHORT_RECIPE_PART
# sha256 (first 16 hex digits) of each preset's document as sorted JSON, taken from the preset files
# before the short CPU recipe moved into _short-cpu-recipe.yaml: resolving the include gives the
# very mappings the files held, so every preset parses to the same JobSpec as before. A preset
# edited on purpose changes its digest: print the new one and update it here.
DOCUMENT_DIGESTS = {
    "hyp-evolve": "af0590ab7806d211",
    "p5-p7-large": "2cb7448d6a589cf2",
    "tiny-cpu": "2595903d689b7259",
    "tiny-cpu-augment": "ba0ba13d8de2ca27",  # added with the preset (tiny-cpu + augmentation)
    "tiny-cpu-inherit": "bb2e16f50425f91a",
    "tiny-cpu-supernet": "2e74ca86e72192dd",
}


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(DOCUMENT_DIGESTS))
def test_every_preset_resolves_to_the_document_it_held_before_the_recipe_moved(name):
    assert _digest(preset_document(name)) == DOCUMENT_DIGESTS[name], name
    assert load_job_spec(name) == parse_job_spec(preset_document(name))


def test_the_short_cpu_presets_take_the_recipe_from_its_one_file():
    assert set(preset_names()) == set(DOCUMENT_DIGESTS)  # the part is not a preset
    recipe = preset_document(RECIPE)
    assert recipe["space"]["hyperparameters"]["base"] == {
        "lr0": 0.004,
        "warmup_epochs": 0.5,
        "mosaic": 0.0,
        "translate": 0.1,
        "scale": 0.25,
    }
    assert recipe["training"] == {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"}
    for name in ("tiny-cpu", "tiny-cpu-inherit", "tiny-cpu-supernet"):
        spec = load_job_spec(name)
        assert dict(spec.space.hyperparameters.base) == recipe["space"]["hyperparameters"]["base"], name
        assert spec.training == TrainingSettings(batch_size=8, nominal_batch=8, optimizer="adam"), name
    assert load_job_spec("p5-p7-large").training.optimizer == "sgd"  # presets that do not include it
    with pytest.raises(SpecLoadError, match="unknown preset '_short-cpu-recipe'") as error:
        load_job_spec(RECIPE)  # a part alone is no job
    assert error.value.field == "preset"


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_an_included_file_gives_its_values_and_the_includer_s_own_keys_win(tmp_path):
    folder = _write(
        tmp_path,
        {
            "_recipe": "space: {hyperparameters: {base: {lr0: 0.004, mosaic: 0.0}}}\n"
            "training: {batch_size: 8, optimizer: adam}\nseed: 1\n",
            "_more": "include: _recipe\ntraining: {workers: 2}\n",
            "job": "include: [_more]\nspace: {hyperparameters: {base: {lr0: 0.01}, search: [lr0]}}\n"
            "training: {batch_size: 16}\nseed: 3\n",
        },
    )
    assert preset_document("job", folder) == {
        "space": {"hyperparameters": {"base": {"lr0": 0.01, "mosaic": 0.0}, "search": ["lr0"]}},
        "training": {"batch_size": 16, "optimizer": "adam", "workers": 2},
        "seed": 3,
    }


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"job": "include: _nowhere\nseed: 1\n"}, "job includes '_nowhere', which is not a preset file"),
        ({"job": "include: ../job\n"}, "job includes '../job', which is not a preset file"),
        (
            {"job": "include: _a\n", "_a": "include: _b\n", "_b": "include: _a\n"},
            "a cycle: job → _a → _b → _a",
        ),
        ({"job": "include: job\nseed: 1\n"}, "a cycle: job → job"),
        ({"job": "include: {name: _a}\n", "_a": "seed: 1\n"}, "job: a preset file's name or a list of them"),
    ],
)
def test_a_missing_cyclic_or_malformed_include_is_a_clear_error(tmp_path, files, words):
    with pytest.raises(SpecLoadError) as error:
        preset_document("job", _write(tmp_path, files))
    assert error.value.field == "include"
    assert words in error.value.message
