"""Does heavy work at the door stall the server? `/healthz` timed while big requests are handled.

    python bench/door_stall.py                  # 400 images to decode, 50 MB body, 1 MiB specs

Starts `scaler serve` (SQLite, no scheduler) on a free port, then, each while a client polls
`/healthz` every 50 ms and records its latency:
1. ``oversized``: a 50 MB job spec with a Content-Length → its answer (413) and the time to it;
2. ``streamed``: the same 50 MB streamed without a Content-Length → 413 as the limit is crossed;
3. ``big_specs``: 8 concurrent 1 MiB YAML specs (the largest allowed) → their answers;
4. ``dataset``: registering a dataset of ``--images`` images (every image decoded, on the thread pool).
Prints one JSON object: per case the answers, the seconds to them, and /healthz p50 / max (ms).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

TOKEN = "door-bench-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def probe_health(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/healthz")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)


def timed(url: str, work: Callable[[], list[int]]) -> dict[str, object]:
    stop, latencies = threading.Event(), []
    prober = threading.Thread(target=probe_health, args=(url, stop, latencies))
    prober.start()
    time.sleep(0.3)
    started = time.perf_counter()
    answers = work()
    seconds = time.perf_counter() - started
    time.sleep(0.2)
    stop.set()
    prober.join()
    return {
        "answers": sorted(set(answers)),
        "seconds": round(seconds, 2),
        "healthz_p50_ms": round(statistics.median(latencies), 1),
        "healthz_max_ms": round(max(latencies), 1),
        "healthz_polls": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    from workers.data.synth import SynthConfig, write_synth_dataset

    with tempfile.TemporaryDirectory(prefix="scaler-door-") as folder:
        data_dir = Path(folder)
        dataset = write_synth_dataset(
            data_dir / "synth", SynthConfig(images=args.images, val_images=max(1, args.images // 8), size=256)
        ).parent
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SCALER_TOKEN": TOKEN}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--no-scheduler",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not start")
                time.sleep(0.3)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            body = b'{"name": "' + b"x" * (args.megabytes * 2**20) + b'"}'
            yaml_spec = ("name: big\n# " + "x" * (2**20 - 100) + "\n").encode()

            def post(content: object, content_type: str = "application/json") -> int:
                with httpx.Client(timeout=600, headers={**headers, "Content-Type": content_type}) as client:
                    return client.post(f"{url}/v1/jobs", content=content).status_code

            def chunks() -> object:
                for start in range(0, len(body), 2**20):
                    yield body[start : start + 2**20]

            def big_specs() -> list[int]:
                with ThreadPoolExecutor(8) as pool:
                    return list(pool.map(lambda _: post(yaml_spec, "application/yaml"), range(8)))

            def register() -> list[int]:
                with httpx.Client(timeout=600, headers=headers) as client:
                    answer = client.post(f"{url}/v1/datasets", json={"name": "bench", "path": str(dataset)})
                    return [answer.status_code]

            result = {
                "images": args.images,
                "oversized": timed(url, lambda: [post(body)]),
                "streamed": timed(url, lambda: [post(chunks())]),
                "big_specs": timed(url, big_specs),
                "dataset": timed(url, register),
            }
            print(json.dumps(result, indent=2))
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
