"""The README's service tour, run as written by a newcomer in an empty folder: the commands are read
from the README itself (only the placeholders JOB_ID, TRIAL_ID and the printed token are filled in),
so a tour that stops working fails here."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("system")]

README = Path(__file__).resolve().parents[2] / "README.md"
SERVICE_COMMANDS = (
    "data synth",
    "serve",
    "submit",
    "jobs",
    "watch",
    "export",
    "cancel",
    "extend",
    "import",
    "usage",
    "devices",
    "team",
    "token",
)
SERVER = "http://127.0.0.1:8000"


def tour_lines() -> list[str]:
    """The service part of the README's tour: its ``scaler …`` lines (comments stripped, in order)."""
    block = README.read_text().split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = []
    for raw in block.splitlines():
        line = re.split(r"\s{2,}#", raw)[0].strip()
        words = line.split()
        if line.startswith("export SCALER_TOKEN=") or words[:1] == ["curl"]:
            lines.append(line)
        elif len(words) > 1 and words[0] == "scaler":
            head = " ".join(words[1:3]) if words[1] == "data" else words[1]
            if head in SERVICE_COMMANDS:
                lines.append(line)
    return lines


def run(line: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    finished = subprocess.run(
        line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert finished.returncode == 0, f"{line}\n{finished.stdout}\n{finished.stderr}"
    return finished.stdout


@contextlib.contextmanager
def serving(line: str, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start the README's ``scaler serve`` line; yields the token it prints."""
    log = (cwd / "serve.log").open("w")
    # its own session (process group), so that the server and its job runners stop together
    server = subprocess.Popen(
        line, shell=True, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        token = None
        while token is None:
            assert server.poll() is None, (cwd / "serve.log").read_text()
            assert time.monotonic() < deadline, (cwd / "serve.log").read_text()
            found = re.search(r"export SCALER_TOKEN=(\S+?)\)", (cwd / "serve.log").read_text())
            token = found.group(1) if found else None
            time.sleep(0.2)
        yield token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_the_tour_runs_as_written(tmp_path):
    lines = tour_lines()
    assert lines[0].startswith("scaler data synth") and lines[1].startswith("scaler serve"), lines
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{SERVER}/healthz", timeout=1)
        pytest.fail("something already listens on port 8000, where the README's server goes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SCALER_TOKEN", None)
    env.pop("SCALER_URL", None)
    ran: list[str] = []
    job_id = trial_id = ""
    serve_line = next(line for line in lines if line.startswith("scaler serve"))
    run(lines[0], tmp_path, env)
    ran.append(lines[0])
    with serving(serve_line, tmp_path, env) as token:
        ran.append(serve_line)
        for line in lines[1:]:
            if line.startswith(("scaler serve", "scaler data synth")):
                continue
            if line.startswith("export SCALER_TOKEN="):
                env["SCALER_TOKEN"] = token
                ran.append(line)
                continue
            command = line.replace("JOB_ID", job_id).replace("TRIAL_ID", trial_id)
            if line.startswith("scaler cancel"):  # the tour's job has ended: cancel a fresh one
                fresh = run(next(x for x in lines if x.startswith("scaler submit")), tmp_path, env).strip()
                command = line.replace("JOB_ID", fresh)
            output = run(command, tmp_path, env)
            ran.append(line)
            if line.startswith("scaler submit"):
                job_id = output.strip().splitlines()[-1]
                assert re.fullmatch(r"[0-9a-f]{32}", job_id), output
            if line.startswith("scaler watch"):
                pareto = httpx.get(
                    f"{SERVER}/v1/jobs/{job_id}/pareto", headers={"Authorization": f"Bearer {token}"}
                ).json()
                assert pareto["front"], pareto
                trial_id = pareto["front"][0]["trial_id"]
            if line.startswith("scaler export"):
                assert (tmp_path / command.split("-o", 1)[1].strip()).stat().st_size > 0
            if line.startswith("curl"):  # the live events of the watched (ended) job, as a stream
                assert "event: job_ended" in output and "id: " in output, output
            if line.startswith("scaler usage"):
                assert "CPU-hours" in output
            if line.startswith("scaler extend"):
                assert "queued" in output, output
            if line.startswith("scaler import"):
                assert output.startswith("imported  imported-"), output
        jobs = json.loads(run("scaler jobs --json", tmp_path, env))
        assert any(job["id"] == job_id and job["status"] == "done" for job in jobs["items"])
    for step in ("submit", "jobs", "watch", "export", "import", "extend", "cancel", "usage"):
        assert any(line.startswith(f"scaler {step}") for line in ran), (step, ran)
