"""The OpenAPI document is a contract: Schemathesis with every check it has, against a real server
holding a dataset, a job and its trials, finds no difference between what the document says and
what the server answers (status codes, bodies, content types, headers, which inputs are refused and
which accepted, authentication, one team's objects hidden from another, resources after they are
created, ``Allow`` on unsupported methods). Bounded: about 2,200 requests per database over every
phase (examples, coverage, fuzzing, stateful), some 20 s each; most are the coverage phase's walk
over the JobSpec's fields. A few direct checks of the same promises come first."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import (
    OTHER_TOKEN,
    Server,
    fresh_postgres_database,
    make_settings,
    start_server,
)

ADMIN_TOKEN = "contract-admin-token"  # the default team's token: an admin token
MAX_EXAMPLES = 8  # per operation and phase
RUN_SECONDS = 300  # the run takes well under a minute; past this something hangs
# positive_data_acceptance's default statuses, and 422 (see CONFIG)
ACCEPTED_OR_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# Settings no schema can hold, said once, each with its reason. Nothing else is relaxed.
CONFIG = """
workers = 1
continue-on-failure = true
# an export builds ONNX from the trial's weights: seconds on a busy 2-core machine, not a hang
request-timeout = 120
# "--checks all" includes the response time (10 s by default): no more than the request timeout
# here, as a slow answer on a busy machine breaks no promise (timings belong in bench/api_load.py)
checks.max_response_time = 120
# a document whose references dangle, or with a body Schemathesis cannot read, fails the run
warnings = {{ fail-on = ["unresolvable_reference", "missing_deserializer"] }}

[generation]
max-examples = {max_examples}
database = "none"

[auth.wfc]
path = "{auth_file}"
user = "admin"
# the admin's team and another team: neither may read the other's objects (a 404, by design)
peers = ["admin", "other-team"]

[parameters]
# Server-side references a generated value cannot hit: the dataset a job or a registration names
# (a folder of images inside the data roots), the jobs a job warm-starts from (the caller's own) and
# the team a token is issued to. Pinned to real ones; every other field of those bodies is generated,
# and requests get as far as creating jobs, datasets and tokens.
"body.dataset" = "{dataset}"
"body.path" = "{dataset}"
"body.warm_start_from" = []
"body.team" = "team-b"

# Bodies that name things on the server: a dataset folder (POST /v1/jobs, POST /v1/datasets), the
# jobs a job warm-starts from, the team a token is issued to (POST /v1/admin/tokens), a zip of a
# dataset (POST /v1/datasets/upload: the schema can only say "binary"). The coverage phase draws its
# own values for them (the pins above are for fuzzing), and a JobSpec also has rules across its fields
# that a JSON schema does not hold (a range's low at most its high, input sizes a multiple of the
# largest stride, fp16 latency only on a CUDA device, ...), and so has a target device (POST
# /v1/devices: fp16 and tensorrt only on a cuda device, threads only on a cpu one, not named cpu or
# cuda:N). More budget for a job (POST /v1/jobs/{{job_id}}/extend) depends on the job's own budget:
# trial_epochs only for a budget that has max_trial_epochs, and the sum within the server's limits.
# Results imported into a job (POST /v1/jobs/{{job_id}}/trials/import) lie in that job's own space
# and were timed on its own latency device. So a well-formed request to these seven may be refused
# with a 422 naming the field; every other status keeps its meaning.
[[operations]]
include-name = [
    "POST /v1/jobs",
    "POST /v1/jobs/{{job_id}}/extend",
    "POST /v1/jobs/{{job_id}}/trials/import",
    "POST /v1/datasets",
    "POST /v1/datasets/upload",
    "POST /v1/admin/tokens",
    "POST /v1/devices",
]
checks.positive_data_acceptance.expected-statuses = {accepted_or_422}

# Revoking a token is the one operation that would end the run: generated ids start at 1, the
# token this run authenticates with. It revokes a token made for it instead.
[[operations]]
include-name = "DELETE /v1/admin/tokens/{{token_id}}"
parameters = {{ token_id = {revoked_token} }}
"""


def references(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def test_every_reference_of_the_document_resolves(tmp_path):
    from api.app import create_app

    document = create_app(make_settings(tmp_path, None)).openapi()
    schemas = document["components"]["schemas"]
    found = references(document)
    assert found and all(ref.startswith("#/components/schemas/") for ref in found)
    assert {ref.rsplit("/", 1)[1] for ref in found} <= schemas.keys()
    assert "HTTPValidationError" not in schemas  # validation errors are answered as ErrorBody
    submit = document["paths"]["/v1/jobs"]["post"]
    assert {"400", "401", "403", "413", "415", "422"} <= submit["responses"].keys()
    budget = schemas["Budget"]["properties"]["max_trials"]
    assert budget["maximum"] == 50  # this server's limit (make_settings), not the model's
    # a job's statuses, defined once (api.job_states), are the enum a client reads and filters by
    from api.job_states import JobState

    statuses = [state.value for state in JobState]
    assert schemas["JobState"]["enum"] == statuses
    assert schemas["JobOut"]["properties"]["status"] == {"$ref": "#/components/schemas/JobState"}
    listing = document["paths"]["/v1/jobs"]["get"]["parameters"]
    status_filter = next(parameter for parameter in listing if parameter["name"] == "status")
    assert {"$ref": "#/components/schemas/JobState"} in status_filter["schema"]["anyOf"]


def test_one_error_shape_everywhere(server):
    with server.client(token=None) as anonymous:
        missing = anonymous.get("/v1/jobs")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"]["field"] == "authorization"
    with server.client() as client:
        for path, status, field in (
            ("/v1/jobs?limit=0", 422, "limit"),  # FastAPI's own validation, named like ours
            ("/v1/jobs?status=exploded", 422, "status"),
            ("/v1/jobs/nope", 404, "job_id"),
            ("/v1/nowhere", 404, "path"),
        ):
            response = client.get(path)
            assert response.status_code == status, (path, response.text)
            assert set(response.json()) == {"detail"} and set(response.json()["detail"]) == {
                "field",
                "message",
            }
            assert response.json()["detail"]["field"] == field, (path, response.text)


def test_unsupported_methods_name_every_method_of_the_path(server):
    with server.client() as client:
        refused = client.delete("/v1/jobs")
        options = client.options("/v1/jobs")
        one_route = client.put("/v1/jobs/some-job")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, OPTIONS, POST"
    assert refused.json()["detail"]["field"] == "method"
    assert options.status_code == 204 and options.headers["allow"] == "GET, OPTIONS, POST"
    assert one_route.status_code == 405 and one_route.headers["allow"] == "GET, OPTIONS"


def test_timestamps_carry_their_timezone(server, synth_dataset):
    folder = Path(server.settings.data_dir) / "synth-timestamps"
    if not folder.exists():
        shutil.copytree(synth_dataset, folder)
    with server.client() as client:
        created = client.post("/v1/jobs", json={"preset": "tiny-cpu", "dataset": str(folder)})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        cancelled = client.post(f"/v1/jobs/{job_id}/cancel").json()
        read = client.get(f"/v1/jobs/{job_id}").json()
    for job in (cancelled, read):
        for name in ("created_at", "finished_at"):
            stamp = dt.datetime.fromisoformat(job[name])
            assert stamp.utcoffset() == dt.timedelta(0), (name, job[name])


def seed(server: Server, synth_dataset: Path) -> dict[str, str]:
    """A dataset inside the data roots, registered; a queued job on it with a measured trial on its
    Pareto front and an infeasible one, so that every read route has something to answer."""
    from api.db.models import Job, TrialRecord
    from api.db.session import make_engine, make_session_factory
    from search_spaces import load_job_spec

    folder = Path(server.settings.data_dir) / "synth"
    shutil.copytree(synth_dataset, folder)
    with server.client(ADMIN_TOKEN) as client:
        dataset = client.post("/v1/datasets", json={"name": "synth", "path": str(folder)})
        assert dataset.status_code == 201, dataset.text
        job = client.post("/v1/jobs", json={"preset": "tiny-cpu", "dataset": str(folder)})
        assert job.status_code == 201, job.text
        token = client.post("/v1/admin/tokens", json={"team": "team-b", "name": "revoked by the run"})
        assert token.status_code == 201, token.text
    job_id = job.json()["id"]
    point = load_job_spec("tiny-cpu").space.default_point()
    measured = {"point": point, "epochs": 1, "ap": 0.3, "ap50": 0.5, "fitness": 0.3, "params": 1000}
    engine = make_engine(server.settings.resolved_database_url())
    with make_session_factory(engine)() as session:
        session.add_all(
            [
                TrialRecord(
                    job_id=job_id,
                    trial_id="t0",
                    status="completed",
                    **measured,
                    latency_ms=4.0,
                    latency_nms_ms=5.0,
                    gflops=0.5,
                    image_size=64,
                    history=[{"epoch": 0, "ap": 0.3}],
                    finished_at=1.0,
                ),
                TrialRecord(job_id=job_id, trial_id="t1", status="infeasible", point=point, history=[]),
            ]
        )
        record = session.get(Job, job_id)
        assert record is not None
        record.front, record.hypervolume, record.hypervolume_history = ["t0"], 0.2, [0.1, 0.2]
        session.commit()
    engine.dispose()
    return {"dataset": str(folder), "revoked_token": str(token.json()["id"])}


def write_config(folder: Path, seeded: dict[str, str]) -> Path:
    auth_file = folder / "auth.json"
    identities = {"admin": ADMIN_TOKEN, "other-team": OTHER_TOKEN}
    auth_file.write_text(
        json.dumps(
            {
                "auth": [
                    {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]}
                    for name, token in identities.items()
                ]
            }
        )
    )
    config = folder / "schemathesis.toml"
    values = {
        "max_examples": MAX_EXAMPLES,
        "auth_file": auth_file,
        "accepted_or_422": json.dumps(ACCEPTED_OR_422),
    }
    config.write_text(CONFIG.format(**values, **seeded))
    return config


def run_schemathesis(
    server: Server, folder: Path, seeded: dict[str, str]
) -> tuple[subprocess.CompletedProcess, dict]:
    report = folder / "report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(write_config(folder, seeded)),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )
    assert report.is_file(), result.stdout[-5000:] + result.stderr[-5000:]
    return result, json.loads(report.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_server_answers_what_its_openapi_document_says(database, tmp_path, synth_dataset):
    pytest.importorskip("schemathesis")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if database == "postgresql" else None
        server = start_server(make_settings(tmp_path / "data", url, token=ADMIN_TOKEN))
        stack.callback(server.stop)
        result, report = run_schemathesis(server, tmp_path, seed(server, synth_dataset))
    output = result.stdout[-30000:] + result.stderr[-3000:]
    assert report["failures"] == [] and report["errors"] == [], output
    assert result.returncode == 0, output  # warnings named in CONFIG fail it too
    operations = report["operations"]
    assert operations["tested"] == operations["total"] >= 22, operations  # every operation, admin's too
    assert 200 <= report["test_cases"]["generated"] <= 4000, report["test_cases"]
