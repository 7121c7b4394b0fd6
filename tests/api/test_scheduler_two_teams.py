"""Two teams' jobs on one server at once: with two job slots and one job per team, team A's second
job waits (and says why) while team B's job starts beside A's first; both run to the end, on a
fresh MLflow store both runners start to use at once."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import OTHER_TOKEN, make_settings, start_server, wait_for_job

pytestmark = pytest.mark.slow


def _job(dataset: str) -> dict:
    return {
        "name": "tiny",  # one name: the jobs share an MLflow experiment, created by whichever is first
        "dataset": dataset,
        "space": {
            "architecture": {
                "input_size": [64],
                "depth_multiple": {"low": 0.33, "high": 0.33},
                "width_multiple": {"low": 0.125, "high": 0.125},
            }
        },
        "budget": {"max_trials": 1, "epochs_per_trial": 1},
        "training": {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"},
    }


def _interval(job: dict) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(job["started_at"]), dt.datetime.fromisoformat(job["finished_at"])


def test_two_teams_jobs_run_at_once_and_a_team_at_its_limit_waits(tmp_path, synth_dataset):
    settings = make_settings(tmp_path, None, run_scheduler=True, scheduler_max_jobs=2, team_max_jobs=1)
    server = start_server(settings)
    try:
        with server.client() as team_a, server.client(OTHER_TOKEN) as team_b:
            first = team_a.post("/v1/jobs", json=_job(str(synth_dataset))).json()["id"]
            second = team_a.post("/v1/jobs", json=_job(str(synth_dataset))).json()["id"]
            other = team_b.post("/v1/jobs", json=_job(str(synth_dataset))).json()["id"]
            # team A's second job is not what holds up team B: B's job starts while A's first runs
            wait_for_job(team_b, other, lambda job: job["status"] != "queued")
            waiting = team_a.get(f"/v1/jobs/{second}").json()
            assert waiting["status"] == "queued"
            assert waiting["waiting"].startswith("team limit reached: 1 of the team's 1 jobs")
            assert team_a.post(f"/v1/jobs/{second}/cancel").json()["status"] == "cancelled"
            ended = lambda job: job["status"] in ("done", "failed", "cancelled")  # noqa: E731
            jobs = [wait_for_job(team_a, first, ended), wait_for_job(team_b, other, ended)]
        assert [job["status"] for job in jobs] == ["done", "done"], [job["error"] for job in jobs]
        assert all(job["trials_finished"] == 1 and job["waiting"] is None for job in jobs)
        (a_start, a_end), (b_start, b_end) = (_interval(job) for job in jobs)
        assert a_start < b_end and b_start < a_end  # they ran at once
        # the job started second was told it shares the machine with the first
        log = (tmp_path / "jobs" / other / "runner.log").read_text()
        assert "2 job(s) share the cluster" in log
    finally:
        server.stop()
