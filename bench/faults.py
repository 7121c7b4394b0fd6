"""Fault drill: a small real job through `scaler serve`, hit by one fault at a random moment, many
times over; counts what the faults cost.

    python bench/faults.py --repeats 10                       # every scenario, 10 times each
    python bench/faults.py --scenarios worker,cancel --repeats 2 --out bench/results/faults.jsonl

Scenarios (each run: a fresh data dir, `scaler serve` on SQLite, a 3-trial × 2-epoch job of tiny
networks at 64 px on a 32-image built-in dataset; the fault lands after a random number of epoch reports):

- ``api``: kill -9 the API process (its scheduler with it), start it again.
- ``runner``: kill -9 the job's runner (the Tune driver); the scheduler marks the job failed,
  the drill resumes it as an operator would (``POST /v1/jobs/{id}/resume``).
- ``worker``: kill -9 the Ray worker process training a trial (Tune retries it from its last
  checkpoint).
- ``all``: kill -9 the API, the runner and every Ray process of the job, start the API again (its
  scheduler takes the stale job over).
- ``cancel``: cancel the running job, then resume it.

Per run it records: trials finished, **lost** (finished before the fault, not finished or changed
after), **duplicated** (trial rows over the budget, or two rows training the same point),
**left running** (rows still `running` once the job ended), **history lost** (epochs missing from a
finished trial's per-epoch history, or reported twice), the job's final status and the wall time.
Rows go to ``--out`` (JSON lines); a summary table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

SCENARIOS = ("api", "runner", "worker", "all", "cancel")
TOKEN = "fault-drill-token"
TRIALS, EPOCHS = 3, 2
JOB = {
    "name": "fault-drill",
    "space": {
        "architecture": {
            "input_size": [64],
            "depth_multiple": {"low": 0.33, "high": 0.33},
            "width_multiple": {"low": 0.125, "high": 0.25},
        },
        "hyperparameters": {"base": {"lr0": 0.004, "warmup_epochs": 0.5, "mosaic": 0.0}, "search": ["lr0"]},
    },
    "objectives": {"latency": {"runs": 30, "rounds": 1}},
    "budget": {"max_trials": TRIALS, "epochs_per_trial": EPOCHS},
    "training": {"batch_size": 8, "nominal_batch": 8, "optimizer": "adam"},
    "evolution": {"initial_random": 1},
}


@dataclass
class Row:
    scenario: str
    repeat: int
    fault_after_epochs: int
    status: str
    finished: int
    lost: int
    duplicated: int
    left_running: int
    history_lost: int
    resumed: bool
    hit: bool  # the fault struck (a process was killed, a running job cancelled)
    seconds: float
    error: str | None = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            found[int(entry.name)] = (parent, command)
    return found


def descendants(root: int) -> list[int]:
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Service:
    """`scaler serve` as a subprocess in its own session (so that killing it leaves the runners)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "SCALER_TOKEN": TOKEN,
            "SCALER_SCHEDULER_STALE_SECONDS": "15",
            "SCALER_SCHEDULER_POLL_SECONDS": "0.5",
            "SCALER_FUSED_MISH": "0",
        }
        log = (self.data_dir / "serve.log").open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError("the API did not start")

    def kill(self) -> None:
        if self.process is not None:
            kill([self.process.pid])
            self.process.wait(30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def runner_pid(job_id: str) -> int | None:
    for pid, (_, command) in processes().items():
        if "api.runner" in command and job_id in command:
            return pid
    return None


def trial_worker_pids(runner: int) -> list[int]:
    """Ray worker processes under the runner that are running a trial (their title names the
    trainable's actor)."""
    table = processes()
    return [pid for pid in descendants(runner) if table.get(pid, (0, ""))[1].startswith("ray::ImplicitFunc")]


def epochs_reported(trials: list[dict]) -> int:
    return sum(len(trial["history"]) for trial in trials)


def trials_of(client: httpx.Client, job_id: str) -> list[dict]:
    answer = client.get(f"/v1/jobs/{job_id}/trials", params={"history": "true", "limit": 500})
    answer.raise_for_status()
    return answer.json()["items"]


def wait(client: httpx.Client, job_id: str, until: object, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            job = client.get(f"/v1/jobs/{job_id}").json()
            if until(job):  # type: ignore[operator]
                return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not get there in {timeout} s")


def ended(job: dict) -> bool:
    return job["status"] in ("done", "failed", "cancelled")


def inject(scenario: str, service: Service, job_id: str) -> bool:
    """Deal the fault; whether it hit something (a process killed, a running job cancelled)."""
    runner = runner_pid(job_id)
    if scenario == "api":
        service.kill()
        service.start()
        return True
    if scenario == "runner" and runner is not None:
        kill([runner])
        return True
    if scenario == "worker" and runner is not None:
        deadline = time.monotonic() + 20  # between two trials no worker trains: wait for the next
        while time.monotonic() < deadline:
            workers = trial_worker_pids(runner)
            if workers:
                kill(workers[:1])
                return True
            time.sleep(0.2)
    if scenario == "all":
        family = [runner, *descendants(runner)] if runner is not None else []
        service.kill()
        kill(family)
        service.start()
        return runner is not None
    if scenario == "cancel":
        with service.client() as client:
            answer = client.post(f"/v1/jobs/{job_id}/cancel")
            hit = answer.status_code == 200 and answer.json()["cancel_requested"]
            wait(client, job_id, ended)
            client.post(f"/v1/jobs/{job_id}/resume")
            return bool(hit)
    return False


def measure(scenario: str, repeat: int, dataset: Path, rng: random.Random) -> Row:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scaler-faults-") as folder:
        data_dir = Path(folder)
        shutil.copytree(dataset, data_dir / "synth")
        service = Service(data_dir, free_port())
        service.start()
        resumed = False
        try:
            with service.client() as client:
                created = client.post("/v1/jobs", json={**JOB, "dataset": str(data_dir / "synth")})
                created.raise_for_status()
                job_id = created.json()["id"]
                fault_after = rng.randint(1, TRIALS * EPOCHS - 1)
                wait(client, job_id, lambda job: ended(job) or job["epochs_used"] >= fault_after)
                before = {
                    trial["trial_id"]: trial
                    for trial in trials_of(client, job_id)
                    if trial["status"] in ("completed", "stopped")
                }
            hit = inject(scenario, service, job_id)
            with service.client() as client:
                job = wait(client, job_id, ended)
                if job["status"] in ("failed", "cancelled") and scenario in ("runner", "all", "cancel"):
                    client.post(f"/v1/jobs/{job_id}/resume")
                    resumed = True
                    job = wait(client, job_id, lambda job: ended(job) and job["status"] != "queued")
                after = trials_of(client, job_id)
            return tally(scenario, repeat, fault_after, job, before, after, resumed, hit, started)
        finally:
            runner = runner_pid(job_id) if "job_id" in locals() else None
            service.kill()
            if runner is not None:
                kill([runner, *descendants(runner)])


def tally(
    scenario: str,
    repeat: int,
    fault_after: int,
    job: dict,
    before: dict[str, dict],
    after: list[dict],
    resumed: bool,
    hit: bool,
    started: float,
) -> Row:
    by_id = {trial["trial_id"]: trial for trial in after}
    finished = [trial for trial in after if trial["status"] in ("completed", "stopped")]
    lost = sum(
        1
        for trial_id, trial in before.items()
        if trial_id not in by_id
        or by_id[trial_id]["status"] not in ("completed", "stopped")
        or by_id[trial_id]["ap"] != trial["ap"]
    )
    points = [json.dumps(trial["point"], sort_keys=True) for trial in after]
    duplicated = max(0, len(after) - TRIALS) + (len(points) - len(set(points)))
    history_lost = 0
    for trial in finished:
        epochs = [int(item["epoch"]) for item in trial["history"]]
        expected = set(range(trial["epochs"]))
        history_lost += len(expected - set(epochs)) + (len(epochs) - len(set(epochs)))
    return Row(
        scenario=scenario,
        repeat=repeat,
        fault_after_epochs=fault_after,
        status=job["status"],
        finished=len(finished),
        lost=lost,
        duplicated=duplicated,
        left_running=sum(1 for trial in after if trial["status"] == "running"),
        history_lost=history_lost,
        resumed=resumed,
        hit=hit,
        seconds=round(time.monotonic() - started, 1),
        error=job.get("error"),
    )


def summary(rows: list[Row]) -> str:
    columns = ("finished", "lost", "duplicated", "left_running", "history_lost")
    lines = [
        "| scenario | runs | faults hit | done | " + " | ".join(columns).replace("_", " ") + " |",
        "|---" * (4 + len(columns)) + "|",
    ]
    for scenario in SCENARIOS:
        mine = [row for row in rows if row.scenario == scenario]
        if not mine:
            continue
        counts = [len(mine), sum(row.hit for row in mine), sum(row.status == "done" for row in mine)]
        counts += [sum(getattr(row, column) for row in mine) for column in columns]
        lines.append(f"| {scenario} | " + " | ".join(str(count) for count in counts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {unknown[0]}; choose from {', '.join(SCENARIOS)}")
    from workers.data.synth import SynthConfig, write_synth_dataset

    rng = random.Random(args.seed)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="scaler-faults-data-") as folder:
        dataset = write_synth_dataset(
            Path(folder) / "synth", SynthConfig(images=32, val_images=8, size=64, classes=1)
        ).parent
        for repeat in range(args.repeats):
            for scenario in scenarios:
                row = measure(scenario, repeat, dataset, rng)
                rows.append(row)
                print(json.dumps(asdict(row)), flush=True)
                if args.out is not None:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    with args.out.open("a") as sink:
                        sink.write(json.dumps(asdict(row)) + "\n")
    print(summary(rows))


if __name__ == "__main__":
    main()
