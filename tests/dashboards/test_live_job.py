"""A real job run by the scheduler, watched in the browser from queued to done."""

from __future__ import annotations

import shutil

import pytest

from tests.api.conftest import TOKEN
from tests.api.test_job_lifecycle import _job, _scheduled_server

pytestmark = pytest.mark.slow


def test_the_job_page_follows_a_real_job_to_the_end(browser, synth_dataset, tmp_path):
    dataset = tmp_path / "synth"
    shutil.copytree(synth_dataset, dataset)
    with _scheduled_server(tmp_path, None) as server, server.client() as client:
        job_id = client.post("/v1/jobs", json=_job(str(dataset), trials=2)).json()["id"]
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{server.url}/dashboard/jobs/{job_id}#token={TOKEN}")
        page.evaluate("window.__same_page = true")
        page.wait_for_selector("#job-status .badge.done", timeout=400_000)
        page.wait_for_function("document.querySelectorAll('#trials tbody tr').length === 2")
        pareto = client.get(f"/v1/jobs/{job_id}/pareto").json()
        drawn = page.evaluate(
            "document.getElementById('pareto-plot').data"
            ".filter(t => t.name.startsWith('trials')).flatMap(t => t.customdata)"
        )
        assert sorted(drawn) == sorted(point["trial_id"] for point in pareto["points"])
        assert page.evaluate("window.__same_page") is True  # every update came without a reload
        assert problems == []
        context.close()
