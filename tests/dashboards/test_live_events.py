"""The job page hears of a job's changes over its event stream (GET /v1/jobs/{id}/events), in a
real Chromium against a real server; where the stream cannot be had it polls instead."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import TOKEN

pytestmark = pytest.mark.slow


def newest_event_id(jobs, job_id: str) -> int:
    with httpx.Client(base_url=jobs.server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        return client.get(f"/v1/jobs/{job_id}/events").json()["items"][-1]["id"]


def test_the_job_page_refreshes_on_the_events_of_its_stream(page, jobs):
    page.goto(f"{jobs.server.url}/dashboard/jobs/{jobs.running}")
    page.wait_for_selector("#live[data-mode='live']")
    page.wait_for_selector("tr[data-trial='r0']")
    jobs.add_trial("r-live", ap=0.3, latency_ms=5.0)
    page.wait_for_selector("tr[data-trial='r-live']", timeout=15_000)
    # the page had the trial's events, up to the newest one the job holds (the front's change)
    newest = newest_event_id(jobs, jobs.running)
    page.wait_for_function(f"document.getElementById('live').dataset.lastEventId === '{newest}'")
    assert int(page.get_attribute("#live", "data-events")) >= 3  # trial_started, trial_ended, front_changed
    assert page.inner_text("#live") == "● live"
    assert page.problems == []


def test_without_its_stream_the_job_page_polls(page, jobs):
    page.route("**/v1/jobs/*/events", lambda route: route.abort())  # a proxy that refuses streams
    page.goto(f"{jobs.server.url}/dashboard/jobs/{jobs.running}")
    page.wait_for_selector("#live[data-mode='down']")
    assert page.inner_text("#live") == "polling"
    jobs.add_trial("r-polled", ap=0.25, latency_ms=6.0)
    page.wait_for_selector("tr[data-trial='r-polled']", timeout=15_000)
    assert page.get_attribute("#live", "data-events") is None  # no event came: polling found it
