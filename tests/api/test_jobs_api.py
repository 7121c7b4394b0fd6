"""The REST API over HTTP, on SQLite and PostgreSQL: auth, jobs, validation at the door."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.api.conftest import OTHER_TOKEN, TINY


def test_health_and_readiness_need_no_token(server):
    with server.client(token=None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        assert client.get("/openapi.json").status_code == 200


def test_no_or_bad_token_is_401(server):
    with server.client(token=None) as client:
        assert client.get("/v1/jobs").status_code == 401
    with server.client(token="not-a-token") as client:
        assert client.get("/v1/jobs").status_code == 401


def test_presets_are_listed(server):
    with server.client() as client:
        names = {preset["name"] for preset in client.get("/v1/presets").json()}
    assert {"tiny-cpu", "p5-p7-large", "hyp-evolve"} <= names


def test_submit_json_and_yaml_then_read_list_and_filter(server, dataset):
    with server.client() as client:
        created = client.post("/v1/jobs", json={**TINY, "dataset": dataset})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        as_yaml = client.post(
            "/v1/jobs",
            content=yaml.safe_dump({**TINY, "name": "from-yaml", "dataset": dataset}),
            headers={"Content-Type": "application/yaml"},
        )
        assert as_yaml.status_code == 201, as_yaml.text
        from_preset = client.post("/v1/jobs", json={"preset": "tiny-cpu", "dataset": dataset})
        assert from_preset.status_code == 201, from_preset.text

        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "queued" and job["name"] == "tiny" and job["progress"] == 0.0
        assert job["spec"]["dataset"] == dataset and job["budget_epochs"] == 2
        # no latency model has predicted anything for a queued job
        nothing = {"screened": 0, "rejected": 0, "compared": 0, "within": None, "median_error": None}
        assert job["latency_predictor"] == nothing
        listed = client.get("/v1/jobs", params={"status": "queued", "limit": 2}).json()
        assert listed["total"] >= 3 and len(listed["items"]) == 2
        second_page = client.get("/v1/jobs", params={"status": "queued", "limit": 2, "offset": 2}).json()
        assert {item["id"] for item in listed["items"]}.isdisjoint(
            item["id"] for item in second_page["items"]
        )
        assert client.get("/v1/jobs", params={"status": "exploded"}).json()["detail"]["field"] == "status"


def test_another_teams_job_is_404(server, dataset):
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
    with server.client(OTHER_TOKEN) as other:
        assert other.get(f"/v1/jobs/{job_id}").status_code == 404
        assert other.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
        assert other.get(f"/v1/jobs/{job_id}/trials").status_code == 404
        assert job_id not in {item["id"] for item in other.get("/v1/jobs").json()["items"]}


def test_cancel_a_queued_job_and_resume_it(server, dataset):
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
        cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409
        resumed = client.post(f"/v1/jobs/{job_id}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
        assert client.post(f"/v1/jobs/{job_id}/resume").status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"searcher": "bayes"}, 422, "searcher"),
        ({"scheduler": "hyperband"}, 422, "scheduler"),
        (
            {"space": {"architecture": {"stages": [5, 7], "input_size": [576]}}},
            422,
            "space.architecture.input_size",
        ),
        ({"space": {"architecture": {"family": ["p9"]}}}, 422, "space.architecture.family"),
        ({"budget": {"max_trials": 51}}, 422, "budget.max_trials"),
        ({"budget": {"max_trials": 0}}, 422, "budget.max_trials"),
        ({"dataset": ""}, 422, "dataset"),
        ({"dataset": "/etc"}, 403, "dataset"),
        ({"dataset": "MISSING"}, 422, "dataset"),
        ({"warm_start_from": ["no-such-job"]}, 422, "warm_start_from[0]"),
        ({"preset": "no-such-preset"}, 422, "preset"),
        ({"objectives": {"latency": {"device": "tpu"}}}, 422, "objectives.latency.device"),
    ],
)
def test_bad_jobs_are_rejected_naming_the_field_and_nothing_is_queued(server, dataset, change, status, field):
    document = {**TINY, "dataset": dataset, **change}
    if document["dataset"] == "MISSING":
        document["dataset"] = str(Path(server.settings.data_dir) / "missing")
    with server.client() as client:
        before = client.get("/v1/jobs").json()["total"]
        response = client.post("/v1/jobs", json=document)
        assert response.status_code == status, response.text
        assert response.json()["detail"]["field"] == field
        assert client.get("/v1/jobs").json()["total"] == before


def test_malformed_bodies_are_4xx(server):
    with server.client() as client:
        broken = client.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
        assert broken.status_code == 400 and broken.json()["detail"]["field"] == "body"
        wrong = client.post("/v1/jobs", content=b"x", headers={"Content-Type": "text/csv"})
        assert wrong.status_code == 415
        listed = client.post("/v1/jobs", json=[1, 2])
        assert listed.status_code == 422


def test_datasets_register_validate_and_list(server, dataset, tmp_path):
    with server.client() as client:
        registered = client.post("/v1/datasets", json={"name": "synth", "path": dataset})
        assert registered.status_code == 201, registered.text
        record = registered.json()
        assert record["num_classes"] == 3 and record["train_images"] == 24
        assert record["id"] in {item["id"] for item in client.get("/v1/datasets").json()}
        by_id = client.post("/v1/jobs", json={**TINY, "dataset": record["id"]})
        assert by_id.status_code == 201
        outside = client.post("/v1/datasets", json={"name": "etc", "path": "/etc"})
        assert outside.status_code == 403 and outside.json()["detail"]["field"] == "dataset"
    with server.client(OTHER_TOKEN) as other:
        assert record["id"] not in {item["id"] for item in other.get("/v1/datasets").json()}
        assert other.post("/v1/jobs", json={**TINY, "dataset": record["id"]}).status_code in (403, 422)


def test_upload_a_zipped_dataset(server, dataset, tmp_path):
    archive = Path(shutil.make_archive(str(tmp_path / "synth"), "zip", dataset))
    with server.client() as client:
        with archive.open("rb") as handle:
            uploaded = client.post("/v1/datasets/upload", data={"name": "zipped"}, files={"archive": handle})
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["train_images"] == 24
        bad = client.post(
            "/v1/datasets/upload", data={"name": "bad"}, files={"archive": ("x.zip", b"not a zip")}
        )
        assert bad.status_code == 422 and bad.json()["detail"]["field"] == "archive"


def test_read_routes_answer_304_while_the_job_is_unchanged(server, dataset):
    from api.db.models import Job, TrialRecord, utcnow
    from api.db.session import make_engine, make_session_factory

    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
        first = client.get(f"/v1/jobs/{job_id}/trials")
        etag = first.headers["etag"]
        assert first.json()["total"] == 0
        assert client.get(f"/v1/jobs/{job_id}/trials", headers={"If-None-Match": etag}).status_code == 304
        pareto_etag = client.get(f"/v1/jobs/{job_id}/pareto").headers["etag"]
        engine = make_engine(server.settings.resolved_database_url())
        with make_session_factory(engine)() as session:
            job = session.get(Job, job_id)
            job.heartbeat_at = utcnow()  # liveness only: the content is unchanged
            session.commit()
            assert (
                client.get(f"/v1/jobs/{job_id}/pareto", headers={"If-None-Match": pareto_etag}).status_code
                == 304
            )
            session.add(TrialRecord(job_id=job_id, trial_id="t1", status="completed", point={}, ap=0.2,
                                    latency_ms=3.0, history=[]))  # fmt: skip
            session.commit()
        engine.dispose()
        changed = client.get(f"/v1/jobs/{job_id}/trials", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.json()["total"] == 1 and changed.headers["etag"] != etag
        points = client.get(f"/v1/jobs/{job_id}/pareto", headers={"If-None-Match": pareto_etag})
        assert points.status_code == 200 and [p["trial_id"] for p in points.json()["points"]] == ["t1"]
        with make_session_factory(engine)() as session:
            session.get(Job, job_id).status = "cancelled"
            session.commit()
        engine.dispose()
        fresh = points.headers["etag"]
        assert client.get(f"/v1/jobs/{job_id}/pareto", headers={"If-None-Match": fresh}).status_code == 200


def test_a_burst_of_concurrent_readers_is_answered(server, dataset):
    """More concurrent requests than the pool has connections and the thread pool has threads:
    every one is answered (a session's connection goes back to the pool without waiting for a
    thread that queued requests hold)."""
    import asyncio

    import httpx

    from tests.api.conftest import TOKEN

    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
    paths = [f"/v1/jobs/{job_id}/trials", f"/v1/jobs/{job_id}/pareto", f"/v1/jobs/{job_id}"]

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=60) as http:
            statuses = []
            for _ in range(3):  # bursts back to back, as a closed-loop load does
                responses = await asyncio.gather(*(http.get(paths[i % 3]) for i in range(200)))
                statuses += [response.status_code for response in responses]
            return statuses

    assert set(asyncio.run(burst())) == {200}
