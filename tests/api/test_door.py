"""Security at the door, over real HTTP on SQLite and PostgreSQL: nothing a request names may make a
job read outside the data roots, no body is read before the caller is known or past its limit,
deep or loosely typed documents are refused with the field named."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.api.conftest import TINY, Server, fresh_postgres_database, make_settings, start_server


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def confined(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose only data root is its data dir (tmp_path's other folders are outside)."""
    data_dir = tmp_path_factory.mktemp(f"door-{request.param}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgresql" else None
        running = start_server(
            make_settings(
                data_dir, url, data_roots=[data_dir], max_spec_bytes=256 * 1024, max_upload_bytes=2**20
            )
        )
        yield running
        running.stop()


@pytest.fixture(scope="module")
def outside(confined: Server, synth_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid dataset outside the server's data roots."""
    target = tmp_path_factory.mktemp("outside") / "synth"
    shutil.copytree(synth_dataset, target)
    assert not str(target).startswith(str(confined.settings.data_dir))
    return target


def inside(server: Server, name: str) -> Path:
    folder = Path(server.settings.data_dir) / "user" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def submit_and_register(server: Server, dataset: Path) -> list[httpx.Response]:
    with server.client() as client:
        return [
            client.post("/v1/jobs", json={**TINY, "dataset": str(dataset)}),
            client.post("/v1/datasets", json={"name": "probe", "path": str(dataset)}),
        ]


def assert_outside(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 403, response.text
        detail = response.json()["detail"]
        assert detail["field"] == "dataset"
        assert "outside the allowed data roots" in detail["message"]
        assert "--data-root" in detail["message"]  # says how to allow a path


def test_a_dataset_inside_the_roots_is_accepted(confined, synth_dataset):
    folder = inside(confined, "plain") / "synth"
    if not folder.exists():
        shutil.copytree(synth_dataset, folder)
    assert [response.status_code for response in submit_and_register(confined, folder)] == [201, 201]


def test_a_description_whose_path_points_outside_is_403(confined, outside):
    folder = inside(confined, "path-entry")
    description = yaml.safe_load((outside / "dataset.yaml").read_text())
    (folder / "dataset.yaml").write_text(yaml.safe_dump({**description, "path": str(outside)}))
    assert_outside(submit_and_register(confined, folder))
    relative = inside(confined, "climbing")
    (relative / "dataset.yaml").write_text(yaml.safe_dump({**description, "path": "../../../../.."}))
    assert_outside(submit_and_register(confined, relative))


def test_split_entries_with_absolute_outside_paths_are_403(confined, outside):
    folder = inside(confined, "split-entries")
    description = yaml.safe_load((outside / "dataset.yaml").read_text())
    for split in ("train", "val"):
        entry = description[split]
        description[split] = {key: str(outside / value) for key, value in entry.items()}
    (folder / "dataset.yaml").write_text(yaml.safe_dump(description))
    assert_outside(submit_and_register(confined, folder))


def test_symlinked_images_and_annotations_pointing_outside_are_403(confined, outside):
    for linked in ("images", "annotations"):
        folder = inside(confined, f"link-{linked}")
        shutil.copy(outside / "dataset.yaml", folder / "dataset.yaml")
        for part in ("images", "annotations"):
            if part == linked:
                (folder / part).symlink_to(outside / part, target_is_directory=True)
            else:
                shutil.copytree(outside / part, folder / part)
        assert_outside(submit_and_register(confined, folder))


def test_a_single_symlinked_image_is_403_and_a_yolo_label_symlink_too(confined, outside, tmp_path):
    folder = inside(confined, "one-image")
    shutil.copytree(outside, folder, dirs_exist_ok=True)
    victim = next((folder / "images" / "train").iterdir())
    victim.unlink()
    victim.symlink_to(outside / "images" / "train" / victim.name)
    assert_outside(submit_and_register(confined, folder))
    yolo = inside(confined, "yolo")
    for split in ("train", "val"):
        (yolo / "images" / split).mkdir(parents=True, exist_ok=True)
        (yolo / "labels" / split).mkdir(parents=True, exist_ok=True)
        image = next((outside / "images" / split).iterdir())
        shutil.copy(image, yolo / "images" / split / image.name)
        (yolo / "labels" / split / f"{image.stem}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (yolo / "data.yaml").write_text(yaml.safe_dump({"train": "images/train", "val": "images/val", "nc": 1}))
    with confined.client() as client:
        ok = client.post("/v1/jobs", json={**TINY, "dataset": str(yolo / "data.yaml")})
    assert ok.status_code == 201, ok.text
    secret = tmp_path / "secret.txt"
    secret.write_text("0 0.5 0.5 0.1 0.1\n")
    label = next((yolo / "labels" / "train").iterdir())
    label.unlink()
    label.symlink_to(secret)
    assert_outside(submit_and_register(confined, yolo / "data.yaml"))


def test_the_door_does_not_read_outside_files(confined, tmp_path):
    """An outside 'dataset' that is broken would give a 422 listing its problems if it were read."""
    broken = tmp_path / "broken"
    (broken / "annotations").mkdir(parents=True)
    (broken / "annotations" / "instances_train.json").write_text("{not json")
    folder = inside(confined, "to-broken")
    (folder / "dataset.yaml").write_text(yaml.safe_dump({"path": str(broken), "format": "coco"}))
    assert_outside(submit_and_register(confined, folder))


def test_an_uploaded_zip_pointing_outside_its_folder_is_403(confined, outside):
    description = yaml.safe_load((outside / "dataset.yaml").read_text())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("dataset.yaml", yaml.safe_dump({**description, "path": str(outside)}))
    with confined.client() as client:
        response = client.post(
            "/v1/datasets/upload", data={"name": "sneaky"}, files={"archive": ("d.zip", buffer.getvalue())}
        )
    assert response.status_code == 403, response.text
    assert response.json()["detail"]["field"] == "archive"
    assert "outside" in response.json()["detail"]["message"]
    assert list((Path(confined.settings.data_dir) / "datasets").glob("*")) == []  # nothing left behind


@pytest.mark.parametrize("depth", [500, 100_000])
def test_deeply_nested_json_is_422_naming_body(confined, depth):
    body = '{"name": ' + "[" * depth + "]" * depth + "}"
    with confined.client() as client:
        response = client.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == "body"


def test_deeply_nested_and_exploding_yaml_is_422_naming_body(confined):
    deep = "name: " + "[" * 2000 + "]" * 2000
    letters = "abcdefghij"
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = ", ".join(["*" + letters[level - 1]] * 10)
        laughs.append(f"{letters[level]}: &{letters[level]} [{previous}]")
    with confined.client() as client:
        for text in (deep, "\n".join(laughs)):
            response = client.post("/v1/jobs", content=text, headers={"Content-Type": "application/yaml"})
            assert response.status_code == 422, response.text
            assert response.json()["detail"]["field"] == "body"


def test_bodies_over_the_limit_are_413_declared_or_streamed(confined):
    big = json.dumps({**TINY, "dataset": "x", "padding": "x" * 300_000}).encode()
    with confined.client() as client:
        declared = client.post("/v1/jobs", content=big, headers={"Content-Type": "application/json"})
        streamed = client.post(
            "/v1/jobs",
            content=iter([big[:150_000], big[150_000:]]),
            headers={"Content-Type": "application/json"},
        )
        upload = client.post(
            "/v1/datasets/upload", data={"name": "big"}, files={"archive": ("big.zip", b"0" * (2**20 + 10))}
        )
    for response, field in ((declared, "body"), (streamed, "body"), (upload, "archive")):
        assert response.status_code == 413, response.text
        assert response.json()["detail"]["field"] == field


def test_no_token_is_401_before_any_body_is_read(confined):
    with confined.client(token=None) as client:
        broken = {"Content-Type": "application/json"}
        assert client.post("/v1/jobs/x/resume", content=b"{broken", headers=broken).status_code == 401
        assert client.post("/v1/jobs", content=b"{broken", headers=broken).status_code == 401
        assert client.post("/v1/datasets", content=b"{broken", headers=broken).status_code == 401
        upload = client.post(
            "/v1/datasets/upload", data={"name": "x"}, files={"archive": ("big.zip", b"0" * (5 * 2**20))}
        )
        assert upload.status_code == 401
        too_big = client.post("/v1/jobs", content=b"x" * (2**20), headers=broken)
        assert too_big.status_code == 401  # the caller first, then the size


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget": {"max_trials": True}}, "budget.max_trials"),
        ({"budget": {"max_trials": "3"}}, "budget.max_trials"),
        ({"budget": {"max_trials": 2.5}}, "budget.max_trials"),
        ({"evolution": {"inherit_weights": 1}}, "evolution.inherit_weights"),
        ({"name": "bad\x00name"}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "\x1b[31mred"}, "name"),
        ({"name": "c1\x9bcontrol"}, "name"),
    ],
)
def test_loose_types_and_control_characters_are_422_naming_the_field(confined, change, field):
    spec = {**TINY, **change, "dataset": "unused"}
    if "budget" in change:
        spec["budget"] = {**TINY["budget"], **change["budget"]}
    with confined.client() as client:
        response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field


def test_dataset_names_follow_the_same_rule(confined, synth_dataset):
    folder = inside(confined, "names") / "synth"
    if not folder.exists():
        shutil.copytree(synth_dataset, folder)
    with confined.client() as client:
        bad = client.post("/v1/datasets", json={"name": "c1\x9bcontrol", "path": str(folder)})
    assert bad.status_code == 422
    assert bad.json()["detail"]["field"] == "name"
