"""The scoring service under load on loopback (issue 8), beside the same work in-process.

    python benchmarks/bench_serving.py [--rates 50 200] [--seconds 60] [--workers 2]

1. Trains a scorer on a simulated world (or takes ``--model DIR``) and picks leads with their
   activity histories, as an MA webhook would post them.
2. In-process: online features + score + reasons for one lead at a time, median and p99 (wall
   time, and the CPU time of the calls: on a busy machine the difference is time the OS gave
   other processes).
3. Starts `bentoml serve` (the real service, ``--workers`` processes) and offers an open-loop
   load of ``--rates`` requests per second for ``--seconds`` each on ``POST /score`` with
   reasons: p50, p99, max latency and errors, the ratio of HTTP p50 to in-process p50, and the
   server's CPU time per request (all its processes), which says how many requests a second
   the cores can carry whatever else runs on the machine.
4. ``POST /score_batch`` with 1,000 leads: median latency over a few calls.

Why a hand-written load generator, not locust or wrk: the target is a latency at a fixed
*arrival rate*. Closed-loop tools (wrk, locust users) send the next request only when the last
one returned, so a slow server quietly receives fewer requests and its queueing delay never
shows (coordinated omission). Here each request has a scheduled send time and its latency counts
from that time, the way wrk2 measures; aiohttp keeps the client cheap enough to share the two
cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import pandas as pd
import psutil
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.synthetic import simulate, write_world
from leadscore.serving.client import lead_payload
from leadscore.serving.scoring import online_rows, score_features
from leadscore.serving.server import start_server, stop_server, wait_ready
from leadscore.training.model.artifact import load_model


def train(workdir: Path, leads: int) -> tuple[Path, Path]:
    export = write_world(simulate(leads, seed=5), workdir / "export")
    result = CliRunner().invoke(
        app,
        ["train", "--warehouse", str(export["warehouse"]), "--out", str(workdir / "run"),
         "--tracking-uri", f"sqlite:///{workdir / 'mlflow.db'}"],
    )  # fmt: skip
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return workdir / "run" / "model", export["leads"].parent


def payloads(export: Path, count: int) -> list[dict]:
    """Leads with activity, each as of its last activity, with reasons in Japanese or English."""
    leads = pd.read_parquet(export / "leads.parquet")
    activities = pd.read_parquet(export / "activities.parquet")
    by_lead = dict(tuple(activities.groupby(schema.LEAD_ID)))
    people = leads.set_index(schema.LEAD_ID, drop=False)
    chosen = np.random.default_rng(0).choice(list(by_lead), size=count, replace=False)
    out = []
    for i, lead_id in enumerate(chosen):
        history = by_lead[lead_id]
        moment = history[schema.OCCURRED_AT].max()
        out.append(lead_payload(people.loc[lead_id].to_dict(), history, as_of=moment,
                                lang="ja" if i % 2 else "en"))  # fmt: skip
    return out


def in_process(model: Path, bodies: list[dict]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of scoring each lead alone, as the service's pass does."""
    scorer = load_model(model)
    wall, cpu = [], []
    for body in bodies:
        started, started_cpu = time.perf_counter(), time.thread_time()
        lead = {**body["attributes"], "lead_id": body["lead_id"], "created_at": body["created_at"]}
        rows = online_rows(scorer, [lead], [body["activities"]], [body["as_of"]])
        score_features(scorer, rows, lang=body["lang"])
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall[20:], cpu[20:]  # warm-up


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU seconds used so far by the server and its workers."""
    total = 0.0
    root = psutil.Process(server.pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def open_loop(url: str, bodies: list[bytes], rate: float, seconds: float) -> dict:
    """Send at fixed times; latency counts from the scheduled time (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, due: float) -> None:
            nonlocal errors
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                async with session.post(
                    f"{url}/score", data=bodies[i % len(bodies)],
                    headers={"content-type": "application/json"},
                ) as response:  # fmt: skip
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - due) * 1000)

        start = time.perf_counter() + 0.5
        await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
    return {
        "rate": rate,
        "requests": total,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "max": float(max(latencies)),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model directory (default: train one)")
    parser.add_argument("--export", type=Path, help="export the model was trained on")
    parser.add_argument("--leads", type=int, default=5000, help="simulated leads to train on")
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=3999)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.model:
            model, export = args.model, args.export
        else:
            model, export = train(workdir, args.leads)
        bodies = payloads(export, 1000)
        local, local_cpu = in_process(model, bodies[:520])
        local_p50, local_p99 = np.percentile(local, 50), np.percentile(local, 99)
        print(f"\nOne lead in-process (online features + score + reasons), {len(local)} calls")
        print(f"  p50 {local_p50:.2f} ms   p99 {local_p99:.2f} ms   "
              f"(CPU time p50 {np.percentile(local_cpu, 50):.2f} ms, "
              f"p99 {np.percentile(local_cpu, 99):.2f} ms)")  # fmt: skip

        encoded = [json.dumps(b, ensure_ascii=False).encode() for b in bodies]
        server = start_server(str(model), port=args.port, workers=args.workers,
                              log=workdir / "server.log")  # fmt: skip
        url = f"http://127.0.0.1:{args.port}"
        try:
            wait_ready(url, server, timeout=180)
            for body in encoded[:50]:  # warm every worker
                httpx.post(f"{url}/score", content=body,
                           headers={"content-type": "application/json"})  # fmt: skip
            print(
                f"\nPOST /score with reasons, open loop, {args.workers} worker(s), "
                f"{args.seconds:.0f} s a rate, loopback, 2 cores shared with the client"
            )
            print(f"  {'req/s':>6} {'sent':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                  f"{'errors':>7} {'p50 vs in-process':>18} {'server CPU ms/req':>18}")  # fmt: skip
            for rate in args.rates:
                cpu_before = server_cpu_seconds(server)
                result = asyncio.run(open_loop(url, encoded, rate, args.seconds))
                cpu_per_request = (server_cpu_seconds(server) - cpu_before) / result["requests"]
                print(f"  {rate:>6.0f} {result['requests']:>7} {result['p50']:>8.2f} "
                      f"{result['p99']:>8.2f} {result['max']:>8.1f} {result['errors']:>7} "
                      f"{result['p50'] / local_p50:>17.1f}x "
                      f"{cpu_per_request * 1000:>18.2f}")  # fmt: skip
            batch = json.dumps({"leads": bodies[:1000]}, ensure_ascii=False).encode()
            times = []
            for _ in range(5):
                started = time.perf_counter()
                response = httpx.post(f"{url}/score_batch", content=batch, timeout=120,
                                      headers={"content-type": "application/json"})  # fmt: skip
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and response.json()["failed"] == 0
            print(f"\nPOST /score_batch, 1,000 leads: median {statistics.median(times):.0f} ms "
                  f"({1000 / statistics.median(times) * 1000:,.0f} leads/s)")  # fmt: skip
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
