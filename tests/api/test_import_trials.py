"""Results from outside, over real HTTP on SQLite and PostgreSQL: ``POST /v1/jobs/{id}/trials/import``
takes networks measured elsewhere; they join a finished job's trials (``origin: imported``, their
source kept) and its front and hypervolume at once, count on none of its budget, and an imported
network's weights are what its export loads. Each result is checked at the door, an error naming
its field; another team's job does not exist for the caller."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from api.db.models import Job
from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter
from scaler import Detector, dump_model_yaml
from search_spaces import JobSpec
from tests.api.conftest import OTHER_TOKEN, Server
from workers.search.outcome import SearchTrial

SPACE = {
    "architecture": {
        "input_size": [64, 96],
        "depth_multiple": {"low": 0.33, "high": 0.33},
        "width_multiple": {"low": 0.125, "high": 0.25},
        "activation": ["leaky"],
    },
    "hyperparameters": {"search": ["lr0"], "anchors": False},
}
POINT = {"input_size": 64, "width_multiple": 0.125}
RESULT = {"point": POINT, "ap": 0.4, "latency_ms": 2.0, "device": "cpu"}


def _finished_job(server: Server, dataset: str) -> tuple[str, JobSpec]:
    """A done job with one trial it trained (AP 0.2 at 5 ms), as its runner records one."""
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={"name": "imports", "dataset": dataset, "space": SPACE}).json()[
            "id"
        ]
    engine = make_engine(server.settings.resolved_database_url())
    factory = make_session_factory(engine)
    with factory() as session:
        job = session.get(Job, job_id)
        spec = JobSpec.model_validate(job.spec)
        job.status = "done"
        session.commit()
    point = {**spec.space.default_point(), "arch/width_multiple": 0.25}
    trained = SearchTrial(trial_id="t0", status="completed", point=point, epochs=1, ap=0.2, latency_ms=5.0)
    DatabaseWriter(factory, job_id, spec).on_trial_complete(trained)
    engine.dispose()
    return job_id, spec


def _export_folder(folder: Path, spec: JobSpec, point: dict) -> Path:
    """The export of the network ``point`` builds for the 3-class dataset (model.yaml, weights.pt)."""
    from workers.search.points import trial_config
    from workers.trial import build_network

    network = build_network(trial_config(spec, point), 3)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(dump_model_yaml(network))
    torch.save(Detector(network).state_dict(), folder / "weights.pt")
    return folder


def test_imported_results_join_a_finished_jobs_front_at_once(
    server: Server, synth_dataset: Path, tmp_path: Path
):
    job_id, spec = _finished_job(server, str(synth_dataset))
    elsewhere = {**spec.space.default_point(), "arch/input_size": 96, "arch/width_multiple": 0.125}
    weights = _export_folder(tmp_path / "elsewhere", spec, elsewhere)
    results = [
        {
            **RESULT,
            "ap": 0.15,
            "latency_ms": 1.0,
            "source": "the lab's own run",
            "hyperparameters": {"lr0": 0.002},
        },
        {
            **RESULT,
            "point": {**POINT, "input_size": 96.0},
            "ap": 0.1,
            "latency_ms": 9.0,
            "weights": str(weights),
        },
        {**RESULT, "ap": 0.5, "latency_ms": 50.0, "ap50": 0.7, "params": 1000, "gflops": 0.5},
    ]
    with server.client() as client:
        before = client.get(f"/v1/jobs/{job_id}").json()
        trained = client.get("/v1/usage").json()["trials"]
        answer = client.post(f"/v1/jobs/{job_id}/trials/import", json={"trials": results})
        assert answer.status_code == 201, answer.text
        fast, slow_dominated, accurate = answer.json()["trial_ids"]
        assert answer.json()["front"] == [fast, "t0", accurate]  # fastest first; t0 still on it
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "done" and job["front"] == [fast, "t0", accurate]
        assert job["hypervolume"] > before["hypervolume"] and job["best_ap"] == 0.5
        assert job["trials_finished"] == 1 and job["epochs_used"] == 1  # the job trained only t0
        assert client.get("/v1/usage").json()["trials"] == trained
        trials = {item["trial_id"]: item for item in client.get(f"/v1/jobs/{job_id}/trials").json()["items"]}
        assert trials["t0"]["origin"] == "searched" and trials["t0"]["source"] is None
        imported = trials[fast]
        assert imported["origin"] == "imported" and imported["source"] == "the lab's own run"
        assert imported["status"] == "completed" and imported["ap"] == 0.15 and imported["latency_ms"] == 1.0
        assert imported["point"]["arch/width_multiple"] == 0.125 and imported["point"]["hyp/lr0"] == 0.002
        assert imported["point"]["arch/activation"] == "leaky" and imported["device_hours"] == 0.0
        assert (
            trials[slow_dominated]["point"]["arch/input_size"] == 96
            and trials[slow_dominated]["image_size"] == 96
        )
        assert trials[accurate]["fitness"] == pytest.approx(0.1 * 0.7 + 0.9 * 0.5)
        pareto = client.get(f"/v1/jobs/{job_id}/pareto").json()
        assert [trial["origin"] for trial in pareto["front"]] == ["imported", "searched", "imported"]
        # its weights are what its export loads
        exported = client.get(f"/v1/jobs/{job_id}/trials/{slow_dominated}/export")
        assert exported.status_code == 200, exported.text
        with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
            loaded = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
        original = torch.load(weights / "weights.pt", weights_only=True)
        assert all(torch.equal(loaded[key], original[key]) for key in original)
        # another team's job does not exist for the caller
    with server.client(OTHER_TOKEN) as other:
        hidden = other.post(f"/v1/jobs/{job_id}/trials/import", json={"trials": results[:1]})
        assert hidden.status_code == 404 and hidden.json()["detail"]["field"] == "job_id"


def test_a_result_breaking_the_jobs_constraint_is_recorded_infeasible(server: Server, synth_dataset: Path):
    with server.client() as client:
        body = {"name": "bounded", "dataset": str(synth_dataset), "space": SPACE}
        body["objectives"] = {"constraints": {"max_latency_ms": 3.0}}
        job_id = client.post("/v1/jobs", json=body).json()["id"]
        answer = client.post(
            f"/v1/jobs/{job_id}/trials/import", json={"trials": [RESULT, {**RESULT, "latency_ms": 4.0}]}
        )
        assert answer.status_code == 201, answer.text
        kept, broken = answer.json()["trial_ids"]
        assert answer.json()["front"] == [kept]
        trial = client.get(f"/v1/jobs/{job_id}/trials/{broken}").json()
        assert trial["status"] == "infeasible" and "max_latency_ms 3.0" in trial["error"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"point": {**POINT, "width_multiple": 0.5}}, 422, "trials[1].point.width_multiple"),
        ({"point": {**POINT, "input_size": 128}}, 422, "trials[1].point.input_size"),
        ({"point": {**POINT, "colour": "red"}}, 422, "trials[1].point.colour"),
        ({"point": {"input_size": 64}}, 422, "trials[1].point.width_multiple"),  # searched: required
        ({"point": {**POINT, "width_multiple": "wide"}}, 422, "trials[1].point.width_multiple"),
        ({"hyperparameters": {"lr0": 0.5}}, 422, "trials[1].hyperparameters.lr0"),  # past the meta table
        ({"hyperparameters": {"learning": 0.1}}, 422, "trials[1].hyperparameters.learning"),
        ({"device": "cuda"}, 422, "trials[1].device"),
        ({"ap": 1.5}, 422, "trials[1].ap"),
        ({"latency_ms": 0}, 422, "trials[1].latency_ms"),
        ({"latency_ms": "fast"}, 422, "trials[1].latency_ms"),
        ({"source": "two\nlines"}, 422, "trials[1].source"),
        ({"extra": 1}, 422, "trials[1].extra"),
        ({"weights": "/etc/passwd"}, 403, "trials[1].weights"),
        ({"weights": "NOT-WEIGHTS"}, 422, "trials[1].weights"),
        ({"weights": "ANOTHER-NETWORK"}, 422, "trials[1].weights"),  # wider than the point's
    ],
)
def test_each_result_is_checked_naming_its_field(
    server: Server, synth_dataset: Path, tmp_path: Path, change: dict, status: int, field: str
):
    job_id, spec = _finished_job(server, str(synth_dataset))
    if change.get("weights") == "NOT-WEIGHTS":
        (tmp_path / "notes.pt").write_text("not weights")
        change = {"weights": str(tmp_path / "notes.pt")}
    elif change.get("weights") == "ANOTHER-NETWORK":
        wider = {**spec.space.default_point(), "arch/width_multiple": 0.25}
        change = {"weights": str(_export_folder(tmp_path / "wider", spec, wider))}
    with server.client() as client:
        refused = client.post(
            f"/v1/jobs/{job_id}/trials/import", json={"trials": [RESULT, {**RESULT, **change}]}
        )
        assert refused.status_code == status and refused.json()["detail"]["field"] == field, refused.text
        assert client.get(f"/v1/jobs/{job_id}/trials").json()["total"] == 1  # nothing of it was kept


def test_a_request_holds_at_most_a_thousand_results_and_at_least_one(server: Server, synth_dataset: Path):
    job_id, _ = _finished_job(server, str(synth_dataset))
    with server.client() as client:
        for trials in ([], [RESULT] * 1001):
            refused = client.post(f"/v1/jobs/{job_id}/trials/import", json={"trials": trials})
            assert refused.status_code == 422 and refused.json()["detail"]["field"] == "trials", refused.text
        missing = client.post("/v1/jobs/nope/trials/import", json={"trials": [RESULT]})
        assert missing.status_code == 404
