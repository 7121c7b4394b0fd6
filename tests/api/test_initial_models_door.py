"""Model yamls among ``space.initial_points`` at the door, over real HTTP on SQLite: a yaml outside
the data roots is 403 and one that is no point of the space 422, each naming the entry's field;
a yaml the space's point wrote is accepted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaler import ScalingPoint, dump_model_yaml
from scaler.scaling.compound import compound_scale
from tests.api.conftest import TINY, Server, make_settings, start_server


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path) -> Iterator[Server]:
    """A server whose only data root is its data dir, holding the dataset and a model yaml."""
    data_dir = tmp_path_factory.mktemp("initial-models")
    shutil.copytree(synth_dataset, data_dir / "synth")
    point = ScalingPoint(input_size=64, depth_multiple=0.33, width_multiple=0.125, num_classes=3)
    (data_dir / "good.yaml").write_text(dump_model_yaml(compound_scale(point).to_network()))
    running = start_server(make_settings(data_dir, None, data_roots=[data_dir]))
    yield running
    running.stop()


def submit(server: Server, model: Path) -> tuple[int, dict]:
    data_dir = Path(server.settings.data_dir)
    space = {**TINY["space"], "initial_points": [{"arch/input_size": 64}, {"model": str(model)}]}
    with server.client() as client:
        response = client.post("/v1/jobs", json={**TINY, "space": space, "dataset": str(data_dir / "synth")})
    return response.status_code, response.json()


def test_a_yaml_of_the_space_is_accepted_others_refused_naming_the_field(confined: Server, tmp_path: Path):
    data_dir = Path(confined.settings.data_dir)
    status, body = submit(confined, data_dir / "good.yaml")
    assert status == 201, body

    outside = tmp_path / "good.yaml"
    shutil.copy(data_dir / "good.yaml", outside)
    status, body = submit(confined, outside)
    assert status == 403, body
    assert body["detail"]["field"] == "space.initial_points[1].model"
    assert "outside the allowed data roots" in body["detail"]["message"]

    wider = data_dir / "wider.yaml"  # a width the space (0.125 only) does not hold
    point = ScalingPoint(input_size=64, depth_multiple=0.33, width_multiple=0.5, num_classes=3)
    wider.write_text(dump_model_yaml(compound_scale(point).to_network()))
    status, body = submit(confined, wider)
    assert status == 422, body
    assert body["detail"]["field"] == "space.initial_points[1].model"
    assert "width_multiple" in body["detail"]["message"] and "outside the space" in body["detail"]["message"]
