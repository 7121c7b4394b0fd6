"""A job's live events (``GET /v1/jobs/{id}/events``) read with a real HTTP client from a real
server: the runner's writer adds them, the stream carries them as they come and ends after the
job's end, a reconnect with ``Last-Event-ID`` gets only later ones, another team gets a 404; and a
real job run by the scheduler, followed by ``scaler watch`` over the stream, whose webhook fails
once and is called again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from api.db.session import make_engine, make_session_factory
from api.runner import DatabaseWriter
from cli.job_events import JobEvent, job_events
from search_spaces import JobSpec
from tests.api.conftest import OTHER_TOKEN, TINY, TOKEN, Server, make_settings, start_server, wait_for_job
from workers.api import SearchTrial

STREAM = {"Accept": "text/event-stream"}


def read_stream(server: Server, job_id: str, **headers: str) -> list[JobEvent]:
    """Every event of one connection, until the server ends the stream."""
    with server.client() as client:
        return [event for event in job_events(client, job_id, int(headers.get("after", 0))) if event]


def test_the_stream_carries_a_jobs_events_live_and_resumes_after_the_last_one_seen(server, dataset):
    with server.client() as client:
        job_id = client.post("/v1/jobs", json={**TINY, "dataset": dataset}).json()["id"]
        spec = JobSpec.model_validate(client.get(f"/v1/jobs/{job_id}").json()["spec"])
        with server.client(OTHER_TOKEN) as other:  # another team's job does not exist for it
            for headers in ({}, STREAM):
                refused = other.get(f"/v1/jobs/{job_id}/events", headers=headers)
                assert refused.status_code == 404 and refused.json()["detail"]["field"] == "job_id"
        bad = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 422 and bad.json()["detail"]["field"] == "Last-Event-ID"

        seen: list[JobEvent] = []
        reader = threading.Thread(target=lambda: seen.extend(read_stream(server, job_id)))
        reader.start()  # live: opened before anything happened to the job
        engine = make_engine(server.settings.resolved_database_url())
        writer = DatabaseWriter(make_session_factory(engine), job_id, spec)
        point = spec.space.default_point()
        writer.on_trial_result(SearchTrial("t0", "running", point, epochs=1, ap=0.1, latency_ms=4.0))
        # a watcher's progress moves within a trial: the job counts the running trial's epoch
        assert client.get(f"/v1/jobs/{job_id}").json()["epochs_used"] == 1
        measured = {"epochs": 2, "ap": 0.2, "latency_ms": 4.0, "params": 1000}
        writer.on_trial_result(SearchTrial("t0", "completed", point, **measured))  # its last report
        writer.on_trial_complete(SearchTrial("t0", "completed", point, **measured))
        writer.on_trial_remeasured(SearchTrial("t0", "completed", point, **{**measured, "latency_ms": 3.0}))
        engine.dispose()
        assert client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
        reader.join(60)
        assert not reader.is_alive()  # the stream ended after the job's end

        kinds = [event.kind for event in seen]
        assert kinds == [
            "trial_started",
            "epoch_reported",
            "trial_ended",
            "front_changed",
            "front_changed",  # the re-measured latency moved the front's hypervolume
            "job_ended",
        ]
        ids = [event.id for event in seen]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert seen[1].payload == {"trial_id": "t0", "epoch": 1, "ap": 0.1, "latency_ms": 4.0}
        assert seen[2].payload["status"] == "completed" and seen[3].payload["front"] == ["t0"]
        ended = seen[-1].payload
        assert ended["status"] == "cancelled" and ended["best_trial"] == "t0" and ended["front_size"] == 1

        # a reconnect gets only what came after the last event it saw: by header, or by query
        assert read_stream(server, job_id, after=str(ids[2])) == seen[3:]
        by_query = client.get(f"/v1/jobs/{job_id}/events", params={"last_event_id": ids[2]}, headers=STREAM)
        assert by_query.headers["content-type"].startswith("text/event-stream")
        assert [line for line in by_query.text.splitlines() if line.startswith("id:")] == [
            f"id: {event_id}" for event_id in ids[3:]
        ]
        page = client.get(f"/v1/jobs/{job_id}/events").json()  # without the stream: a JSON page
        assert [item["id"] for item in page["items"]] == ids and page["finished"] is True


def test_a_stopping_server_ends_the_open_streams(tmp_path, synth_dataset):
    server = start_server(make_settings(tmp_path, None))
    opened, lines = threading.Event(), []

    def follow() -> None:  # a queued job's stream: nothing happens to the job
        with server.client() as client:
            job = client.post("/v1/jobs", json={**TINY, "dataset": str(synth_dataset)}).json()["id"]
            with client.stream("GET", f"/v1/jobs/{job}/events", headers=STREAM) as answer:
                for line in answer.iter_lines():
                    opened.set()
                    lines.append(line)
                lines.append("(ended)")  # not reached when the connection is cut

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        assert opened.wait(30)
    finally:
        server.stop()
    reader.join(30)
    assert not reader.is_alive() and lines == ["retry: 2000", "", "(ended)"]


class Hook(BaseHTTPRequestHandler):
    """A webhook that answers 500 to its first call and 200 to the later ones."""

    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(500 if len(self.bodies) == 1 else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict]]]:
    bodies: list[dict] = []
    handler = type("OneHook", (Hook,), {"bodies": bodies})
    listening = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=listening.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listening.server_address[1]}/scaler", bodies
    listening.shutdown()


@pytest.mark.slow
def test_a_real_job_is_watched_over_its_stream_and_its_webhook_is_retried(tmp_path, synth_dataset, hook):
    from click.testing import CliRunner

    from cli.main import cli
    from tests.api.test_job_lifecycle import _dataset, _job, _scheduled_server

    url, bodies = hook  # on 127.0.0.1: the operator allows it (its runner is told so too)
    with (
        _scheduled_server(tmp_path, None, webhook_allowed_hosts="127.0.0.1") as server,
        server.client() as client,
    ):
        spec = {**_job(_dataset(tmp_path, synth_dataset), trials=2), "notify": {"webhook": "ftp://x"}}
        refused = client.post("/v1/jobs", json=spec)
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == "notify.webhook"
        job_id = client.post("/v1/jobs", json={**spec, "notify": {"webhook": url}}).json()["id"]
        seen: list[JobEvent] = []
        reader = threading.Thread(target=lambda: seen.extend(read_stream(server, job_id)))
        reader.start()
        watched = CliRunner().invoke(cli, ["watch", job_id, "--url", server.url, "--token", TOKEN])
        assert watched.exit_code == 0, watched.output
        assert "front " in watched.output
        reader.join(60)
        job = wait_for_job(client, job_id, lambda job: job["status"] == "done", timeout=10)
        kinds = [event.kind for event in seen]
        assert kinds[0] == "job_started" and kinds[-1] == "job_ended" and seen[-1].payload["status"] == "done"
        assert kinds.count("trial_started") == kinds.count("trial_ended") == 2
        assert "epoch_reported" in kinds and "front_changed" in kinds
        ended = [event.payload for event in seen if event.kind == "trial_ended"]
        assert {payload["status"] for payload in ended} <= {"completed", "stopped"}
        front = [event.payload for event in seen if event.kind == "front_changed"][-1]
        assert front["front"] == job["front"] and front["hypervolume"] == pytest.approx(job["hypervolume"])

        calls = wait_for_events(client, job_id, "webhook_called", count=2)
        assert [(call["attempt"], call["delivered"], call["status_code"]) for call in calls] == [
            (1, False, 500),
            (2, True, 200),
        ]
        assert len(bodies) == 2 and bodies[0] == bodies[1]
        assert bodies[1]["job_id"] == job_id and bodies[1]["status"] == "done"
        assert bodies[1]["front_size"] == len(job["front"]) and bodies[1]["best_trial"] in job["front"]
        assert bodies[1]["hypervolume"] == pytest.approx(job["hypervolume"])


def wait_for_events(client: httpx.Client, job_id: str, kind: str, count: int) -> list[dict]:
    """The payloads of the job's ``kind`` events, once it has ``count`` of them."""
    found: list[dict] = []

    def enough(_: dict) -> bool:
        items = client.get(f"/v1/jobs/{job_id}/events").json()["items"]
        found[:] = [item["payload"] for item in items if item["kind"] == kind]
        return len(found) >= count

    wait_for_job(client, job_id, enough, timeout=60)
    return found
