"""More budget for a finished job, through the real server and scheduler: ``POST
/v1/jobs/{id}/extend`` (and ``scaler extend``) queues it again and its search goes on from its
saved state — the trials it ran are kept, the added ones trained — any number of times; bad
requests are refused naming the field, and lose nothing."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from cli.progress import FULL
from tests.api.conftest import TOKEN
from tests.api.test_job_lifecycle import _dataset, _job, _scheduled_server, _wait

pytestmark = pytest.mark.slow


def _finished(job: dict) -> bool:
    return job["status"] in ("done", "failed")


def test_a_finished_job_extended_twice_keeps_its_trials_and_trains_the_added_ones(tmp_path, synth_dataset):
    with _scheduled_server(tmp_path, None) as server, server.client() as client:
        job_id = client.post("/v1/jobs", json=_job(_dataset(tmp_path, synth_dataset), trials=2)).json()["id"]
        assert client.post(f"/v1/jobs/{job_id}/extend", json={"trials": 1}).status_code == 409  # not finished
        job = _wait(server, job_id, _finished)
        assert job["status"] == "done", job["error"]
        first = {t["trial_id"]: t for t in client.get(f"/v1/jobs/{job_id}/trials").json()["items"]}
        assert len(first) == 2

        for body, field in (
            ({"trials": 0}, "trials"),
            ({"trials": "1"}, "trials"),
            ({"trials": 1, "trial_epochs": 3}, "trial_epochs"),  # a budget of trials only
            ({"trials": 1, "extra": 1}, "extra"),
            ({"trials": 10_000}, "budget.max_trials"),  # over the server's limit
            ({"trials": 10**30}, "trials"),  # past any budget
        ):
            refused = client.post(f"/v1/jobs/{job_id}/extend", json=body)
            assert refused.status_code == 422 and refused.json()["detail"]["field"] == field, refused.text
        assert client.post("/v1/jobs/nope/extend", json={"trials": 1}).status_code == 404
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "done"  # nothing lost

        extended = client.post(f"/v1/jobs/{job_id}/extend", json={"trials": 1})
        assert extended.status_code == 200 and extended.json()["trials_total"] == 3
        job = _wait(server, job_id, lambda job: _finished(job) and job["trials_finished"] == 3, timeout=400)
        assert job["status"] == "done" and job["spec"]["budget"]["max_trials"] == 3, job["error"]
        trials = {t["trial_id"]: t for t in client.get(f"/v1/jobs/{job_id}/trials").json()["items"]}
        assert len(trials) == 3 and set(first) < set(trials)
        for trial_id, before in first.items():  # kept as they were, not trained again
            assert trials[trial_id]["epochs"] == before["epochs"] and trials[trial_id]["ap"] == before["ap"]

        environment = {**os.environ, "SCALER_URL": server.url, "SCALER_TOKEN": TOKEN}
        command = [sys.executable, "-m", "cli", "extend", job_id, "--trials", "1"]
        said = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
        assert said.returncode == 0 and "budget 4 trials" in said.stdout, said.stderr
        job = _wait(server, job_id, lambda job: _finished(job) and job["trials_finished"] == 4, timeout=400)
        assert job["status"] == "done" and client.get(f"/v1/jobs/{job_id}/trials").json()["total"] == 4

        # scaler watch: bars on a terminal, plain lines in a pipe (issue 26: progress at a glance)
        watch = [sys.executable, "-m", "cli", "watch", job_id]
        on_terminal = _on_a_terminal(watch, environment)
        assert "\r" in on_terminal and FULL in on_terminal and "trials" in on_terminal, on_terminal
        piped = subprocess.run(watch, env=environment, capture_output=True, text=True, timeout=60)
        assert piped.returncode == 0 and "\r" not in piped.stderr and FULL not in piped.stderr
        assert "done      trials 4/4 epochs 4/4" in piped.stderr, piped.stderr


def _on_a_terminal(command: list[str], environment: dict[str, str]) -> str:
    """What ``command`` writes when its output is a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    try:
        finished = subprocess.run(
            command, env=environment, stdin=follower, stdout=follower, stderr=follower, timeout=60
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert finished.returncode == 0
    return b"".join(chunks).decode(errors="replace")
