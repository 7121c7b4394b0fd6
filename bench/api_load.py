"""API read load: concurrent clients reading a job's Pareto front and trials.

    python bench/api_load.py            # PostgreSQL at SCALER_TEST_POSTGRES_URL, 100 clients, 30 s
    python bench/api_load.py --clients 100 --seconds 30 --trials 500 --workers 2

Creates a fresh database, fills one finished job with ``--trials`` trials (each with a 10-epoch
history), starts ``uvicorn`` with ``--workers`` processes on a free port, then runs the clients
(asyncio, one keep-alive connection each, alternating GET /v1/jobs/{id}/pareto and GET
/v1/jobs/{id}/trials?limit=100) and prints p50/p95/p99 latency, throughput and errors as JSON.
``--interval 1`` makes each client poll once a second (what a dashboard does); the default 0 sends
the next request as soon as the answer is in (the server's saturation point).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from sqlalchemy import create_engine, text

from api.auth import create_token
from api.db.migrate import upgrade
from api.db.models import Job, TrialRecord
from api.db.session import make_engine, make_session_factory, normalise_url
from api.serving import KEEP_ALIVE_SECONDS

TOKEN = "load-test-token"


def fill(url: str, trials: int) -> str:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(0)
    with factory() as session:
        create_token(session, "load", TOKEN)
        team_id = session.execute(text("SELECT id FROM teams WHERE name = 'load'")).scalar_one()
        job = Job(id=uuid.uuid4().hex, team_id=team_id, name="load", status="done", spec={}, front=[],
                  hypervolume_history=[], trials_total=trials, trials_finished=trials)  # fmt: skip
        session.add(job)
        rows = []
        for index in range(trials):
            ap, latency = rng.random() * 0.5, rng.random() * 40
            history = [{"epoch": e, "ap": ap * e / 10, "latency_ms": latency} for e in range(10)]
            rows.append(TrialRecord(job_id=job.id, trial_id=f"t{index:05d}", status="completed",
                                    point={"arch/width_multiple": rng.random()}, epochs=10, ap=ap,
                                    ap50=ap * 1.6, fitness=ap, latency_ms=latency, params=10**6, gflops=1.0,
                                    history=history, finished_at=float(index)))  # fmt: skip
        session.add_all(rows)
        job.front = [row.trial_id for row in rows[:20]]
        job.hypervolume_history = [0.01 * i for i in range(trials)]
        session.commit()
        job_id = job.id
    engine.dispose()
    return job_id


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One keep-alive HTTP/1.1 GET; returns the status (the body is read and dropped)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return int(lines[0].split()[1])


async def client_loop(
    port: int,
    job_id: str,
    window: tuple[float, float],
    interval: float,
    timings: list[float],
    errors: list[str],
) -> None:
    """A client on its own connection, alternating the two reads; with ``interval`` > 0 it starts
    a request every ``interval`` seconds (a polling dashboard), else as fast as answers come."""
    paths = [f"/v1/jobs/{job_id}/pareto", f"/v1/jobs/{job_id}/trials?limit=100&sort=-ap"]
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
        for path in paths
    ]
    await asyncio.sleep(random.random() * interval)  # polling clients do not start in lockstep
    measure_from, until = window  # requests before measure_from warm the server up, uncounted
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(_get(reader, writer, requests[index % 2]), 30)
                if status != 200:
                    errors.append(str(status))
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                errors.append(type(error).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            elapsed = time.perf_counter() - started
            if time.monotonic() > measure_from:
                timings.append(elapsed * 1000)
            index += 1
            if interval > 0:
                await asyncio.sleep(max(0.0, interval - elapsed))
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("SCALER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of uncounted requests first")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between a client's requests")
    args = parser.parse_args()
    admin = create_engine(normalise_url(args.database), isolation_level="AUTOCOMMIT")
    name = f"scaler_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{args.database.rsplit('/', 1)[0]}/{name}"
    server = None
    try:
        job_id = fill(url, args.trials)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "SCALER_DATABASE_URL": url, "SCALER_RUN_SCHEDULER": "false"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port),
             "--workers", str(args.workers), "--log-level", "warning",
             "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)], env=env)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        timings: list[float] = []
        errors: list[str] = []

        async def run() -> None:
            start = time.monotonic() + args.warmup
            window = (start, start + args.seconds)
            await asyncio.gather(
                *(
                    client_loop(port, job_id, window, args.interval, timings, errors)
                    for _ in range(args.clients)
                )
            )

        asyncio.run(run())
        ordered = sorted(timings)

        def percentile(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

        print(json.dumps({
            "clients": args.clients, "interval_s": args.interval, "seconds": args.seconds,
            "trials": args.trials, "workers": args.workers,
            "requests": len(ordered), "requests_per_second": len(ordered) / args.seconds,
            "errors": len(errors),
            "p50_ms": statistics.median(ordered), "p95_ms": percentile(0.95), "p99_ms": percentile(0.99),
        }))  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
