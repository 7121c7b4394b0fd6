"""Target devices over HTTP, on SQLite and PostgreSQL: the presets listed, admins register devices
(members get a 403), names unique across presets and registry, bad fields a 422 naming the field,
jobs that name a device checked at the door; and ``scaler devices add|list`` against the server."""

from __future__ import annotations

import contextlib
import json
import shutil
import typing
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from cli import device_commands
from cli.main import cli
from search_spaces.devices import DeviceKind, Precision, Runtime, preset_devices
from tests.api.conftest import TINY, TOKEN, Server, fresh_postgres_database, make_settings, start_server

ADMIN_TOKEN = "devices-admin-token"  # SCALER_TOKEN of the server: the default team's, an admin token
FIELD = "objectives.latency.device"


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def admin_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, synth_dataset
) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"devices-{request.param}")
    shutil.copytree(synth_dataset, data_dir / "synth")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgresql" else None
        running = start_server(make_settings(data_dir, url, token=ADMIN_TOKEN))
        yield running
        running.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def device(name: str, **changes: object) -> dict[str, object]:
    return {"name": name, "kind": "cpu", "runtime": "onnxruntime", "threads": 2, **changes}


def registered(server: Server, name: str, **changes: object) -> dict[str, object]:
    with server.client(ADMIN_TOKEN) as admin:
        response = admin.post("/v1/devices", json=device(name, **changes))
    assert response.status_code == 201, response.text
    return response.json()


def test_every_team_lists_the_presets(admin_server):
    with admin_server.client() as client:
        response = client.get("/v1/devices")
    assert response.status_code == 200, response.text
    listed = {item["name"]: item for item in response.json()}
    for name, preset in preset_devices().items():
        assert listed[name] == {**preset.model_dump(), "preset": True}
    with admin_server.client(token=None) as anonymous:
        assert anonymous.get("/v1/devices").status_code == 401


def test_an_admin_registers_a_device_and_a_member_gets_a_403(admin_server):
    name = unique("edge")
    with admin_server.client() as member:
        refused = member.post("/v1/devices", json=device(name))
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"]["field"] == "authorization"
        # the caller first: a member's broken body is a 403 too, never read
        assert member.post("/v1/devices", content=b"{not json").status_code == 403
    with admin_server.client(token=None) as anonymous:
        assert anonymous.post("/v1/devices", content=b"{not json").status_code == 401
    with admin_server.client() as member:
        assert member.get(f"/v1/devices/{name}").status_code == 404
    created = registered(admin_server, name, description="a Xeon server, 2 cores")
    assert created == {
        **device(name),
        "precision": "fp32",
        "batch": 1,
        "description": "a Xeon server, 2 cores",
        "preset": False,
    }
    with admin_server.client() as member:  # every team sees it and may name it
        assert member.get(f"/v1/devices/{name}").json() == created
        assert created in member.get("/v1/devices").json()


def test_an_int8_device_is_onnxruntime_on_a_cpu(admin_server):
    created = registered(admin_server, unique("int8"), precision="int8")  # onnxruntime, cpu
    assert (created["precision"], created["runtime"], created["kind"]) == ("int8", "onnxruntime", "cpu")


def test_a_name_is_taken_by_a_preset_or_a_registered_device(admin_server):
    name = unique("taken")
    registered(admin_server, name)
    preset = next(iter(preset_devices()))
    with admin_server.client(ADMIN_TOKEN) as admin:
        for taken in (name, preset):
            response = admin.post("/v1/devices", json=device(taken, kind="cuda", threads=None))
            assert response.status_code == 409, response.text
            assert response.json()["detail"]["field"] == "name"
            assert taken in response.json()["detail"]["message"]
        listed = [item for item in admin.get("/v1/devices").json() if item["name"] in (name, preset)]
    assert [item["kind"] for item in listed] == ["cpu", preset_devices()[preset].kind]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "tpu"}, "kind"),
        ({"precision": "int8", "kind": "cuda", "threads": None}, "precision"),
        ({"precision": "int8", "runtime": "torch"}, "precision"),  # int8: onnxruntime on a cpu only
        ({"precision": "int8", "runtime": "torch-compile"}, "precision"),
        ({"precision": "int8", "runtime": "tensorrt"}, "precision"),
        ({"precision": "int4"}, "precision"),
        ({"precision": "fp16"}, "precision"),  # fp16 latency needs a cuda device
        ({"runtime": "tensorrt"}, "runtime"),  # tensorrt runs on a cuda device
        ({"kind": "cuda"}, "threads"),  # only a cpu device has a thread count
        ({"runtime": "tvm"}, "runtime"),
        ({"name": "Big GPU"}, "name"),
        ({"name": "cuda:1"}, "name"),
        ({"name": "cpu"}, "name"),  # the trial's own device, not a registry name
        ({"name": "gpu\n"}, "name"),
        ({"name": "\x00"}, "name"),
        ({"name": "x" * 64}, "name"),
        ({"name": ""}, "name"),
        ({"batch": 0}, "batch"),
        ({"batch": "4"}, "batch"),  # typed as JSON types it
        ({"threads": True}, "threads"),
        ({"description": "\x1b[31mred"}, "description"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_fields_are_a_422_naming_the_field_and_nothing_is_registered(admin_server, change, field):
    with admin_server.client(ADMIN_TOKEN) as admin:
        before = admin.get("/v1/devices").json()
        response = admin.post("/v1/devices", json={**device(unique("bad")), **change})
        assert response.status_code == 422, response.text
        assert response.json()["detail"]["field"] == field
        assert admin.get("/v1/devices").json() == before


def test_a_body_that_is_not_a_device_is_refused(admin_server):
    with admin_server.client(ADMIN_TOKEN) as admin:
        broken = admin.post("/v1/devices", content=b"{not json", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400 and broken.json()["detail"]["field"] == "body"
        assert admin.post("/v1/devices", json=["a"]).status_code == 422
        missing = admin.post("/v1/devices", json={"name": unique("nokind")})
        assert missing.status_code == 422 and missing.json()["detail"]["field"] == "kind"


def test_one_device_by_name_and_a_404_naming_name(admin_server):
    preset, values = next(iter(preset_devices().items()))
    with admin_server.client() as client:
        assert client.get(f"/v1/devices/{preset}").json() == {**values.model_dump(), "preset": True}
        for unknown in ("no-such-device", "cpu", "Big%20GPU", "%00", "x" * 500):
            response = client.get(f"/v1/devices/{unknown}")
            assert response.status_code == 404, response.text
            assert response.json()["detail"]["field"] == "name"


def test_a_job_names_a_known_device_or_gets_a_422_listing_them(admin_server):
    name = unique("target")
    registered(admin_server, name)
    dataset = str(admin_server.settings.data_dir / "synth")
    preset = next(iter(preset_devices()))
    with admin_server.client(TOKEN) as client:
        for known in (name, preset, "cpu"):
            spec = {**TINY, "dataset": dataset, "objectives": {"latency": {"device": known}}}
            created = client.post("/v1/jobs", json=spec)
            assert created.status_code == 201, created.text
            job = client.get(f"/v1/jobs/{created.json()['id']}").json()
            assert job["spec"]["objectives"]["latency"]["device"] == known
        before = client.get("/v1/jobs").json()["total"]
        unknown = {**TINY, "dataset": dataset, "objectives": {"latency": {"device": unique("nowhere")}}}
        response = client.post("/v1/jobs", json=unknown)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail["field"] == FIELD
        assert name in detail["message"] and preset in detail["message"]
        # a registered device sets its own batch, precision and threads: the objective may not
        clashing = {**TINY, "dataset": dataset, "objectives": {"latency": {"device": name, "batch": 8}}}
        assert client.post("/v1/jobs", json=clashing).status_code == 422
        assert client.get("/v1/jobs").json()["total"] == before


def scaler(server: Server, *arguments: str, token: str = ADMIN_TOKEN) -> Result:
    """``scaler ARGUMENTS`` against the running server (SCALER_URL, SCALER_TOKEN)."""
    environment = {"SCALER_URL": server.url, "SCALER_TOKEN": token}
    return CliRunner().invoke(cli, list(arguments), env=environment)


def test_the_cli_adds_and_lists_devices(admin_server):
    name = unique("cli")
    added = scaler(
        admin_server, "devices", "add", name, "--kind", "cpu", "--runtime", "onnxruntime", "--threads", "4",
        "--description", "the CI runner", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.output) == {
        "name": name,
        "kind": "cpu",
        "runtime": "onnxruntime",
        "precision": "fp32",
        "batch": 1,
        "threads": 4,
        "description": "the CI runner",
        "preset": False,
    }
    listed = scaler(admin_server, "devices", "list", "--json", token=TOKEN)
    assert listed.exit_code == 0, listed.output
    by_name = {item["name"]: item for item in json.loads(listed.output)}
    assert by_name[name] == json.loads(added.output)
    assert set(preset_devices()) <= {item for item, values in by_name.items() if values["preset"]}
    table = scaler(admin_server, "devices", "list")
    assert table.exit_code == 0 and name in table.output and "the CI runner" in table.output


def test_the_cli_prints_the_servers_field_and_message_and_fails(admin_server):
    name = unique("twice")
    assert scaler(admin_server, "devices", "add", name, "--kind", "cuda").exit_code == 0
    again = scaler(admin_server, "devices", "add", name, "--kind", "cuda")
    assert again.exit_code != 0 and "409" in again.output and f"name: a device named '{name}'" in again.output
    member = scaler(admin_server, "devices", "add", unique("member"), "--kind", "cpu", token=TOKEN)
    assert member.exit_code != 0 and "403" in member.output and "authorization" in member.output
    fp16_cpu = scaler(admin_server, "devices", "add", unique("half"), "--kind", "cpu", "--precision", "fp16")
    assert fp16_cpu.exit_code != 0 and "precision: fp16 latency needs a cuda device" in fp16_cpu.output
    bad_name = scaler(admin_server, "devices", "add", "Bad Name", "--kind", "cpu")
    assert bad_name.exit_code != 0 and "422" in bad_name.output and "name:" in bad_name.output


def test_the_clis_choices_are_the_devices_own():
    assert typing.get_args(DeviceKind) == device_commands.KINDS
    assert typing.get_args(Runtime) == device_commands.RUNTIMES
    assert typing.get_args(Precision) == device_commands.PRECISIONS
