"""The coordinator's machine dies mid-job (API, scheduler and the job's runner all SIGKILLed, no
clean shutdown): a new coordinator takes the job over once its heartbeat is stale and finishes
it, finished trials unchanged, no configuration evaluated twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port, fresh_postgres_database, wait_for_job
from tests.api.test_job_lifecycle import _job

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("system")]
TOKEN = "crash-test-token"


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    scaler = Path(sys.executable).parent / "scaler"
    with log.open("ab") as output:
        process = subprocess.Popen([str(scaler), "serve", "--port", str(port)], env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(log.read_text()[-2000:])


def _runner_processes(job_id: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "api.runner" in command and job_id in command:
            found.append(int(entry.name))
    return found


def test_a_killed_coordinator_is_taken_over_and_the_job_finishes(tmp_path, synth_dataset):
    dataset = tmp_path / "synth"
    shutil.copytree(synth_dataset, dataset)
    with fresh_postgres_database() as url:
        env = {**os.environ, "SCALER_DATABASE_URL": url, "SCALER_DATA_DIR": str(tmp_path / "data"),
               "SCALER_DATA_ROOTS": json.dumps([str(tmp_path)]), "SCALER_TOKEN": TOKEN,
               "SCALER_SCHEDULER_STALE_SECONDS": "8", "SCALER_SCHEDULER_POLL_SECONDS": "0.5"}  # fmt: skip
        port = free_port()
        first = _serve(env, port, tmp_path / "first.log")
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        try:
            job_id = client.post("/v1/jobs", json=_job(str(dataset), trials=2, epochs=1)).json()["id"]
            wait_for_job(client, job_id, lambda job: job["trials_finished"] >= 1)
            before = {t["trial_id"]: t for t in client.get(f"/v1/jobs/{job_id}/trials").json()["items"]}
            runners = _runner_processes(job_id)
            assert runners, "the job's runner is not running"
            os.killpg(first.pid, signal.SIGKILL)  # the whole coordinator at once, no clean-up
            for pid in runners:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            first.wait(30)
            second = _serve(env, port, tmp_path / "second.log")
            try:
                job = wait_for_job(client, job_id, lambda job: job["status"] in ("done", "failed"))
                after = {t["trial_id"]: t for t in client.get(f"/v1/jobs/{job_id}/trials").json()["items"]}
            finally:
                os.killpg(second.pid, signal.SIGTERM)
                second.wait(60)
        finally:
            client.close()
    assert job["status"] == "done", job["error"]
    assert len(after) == 2 and job["trials_finished"] == 2
    for trial_id, trial in before.items():
        if trial["status"] == "completed":  # finished before the crash: kept as they were
            assert after[trial_id]["ap"] == trial["ap"] and after[trial_id]["epochs"] == trial["epochs"]
    points = [json.dumps(t["point"], sort_keys=True) for t in after.values()]
    assert len(set(points)) == 2  # no configuration evaluated twice
