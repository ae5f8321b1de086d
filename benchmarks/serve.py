#!/usr/bin/env python
"""Load test of `sentiment serve` on 127.0.0.1, beside in-process predict_proba in the same run.

    python benchmarks/serve.py                       # packaged model, 32 clients, 10 s per size
    python benchmarks/serve.py --clients 32 --seconds 5 --sizes 1 100 --json-out serve.json

Starts the server in a subprocess on a free 127.0.0.1 port (nothing else is
contacted), then for each request size (texts per request): N clients send
requests back to back for M seconds (after a short warm-up) over keep-alive
connections and the run stops by itself. Prints texts/s and p50/p95/p99
latency per size, the server's mean micro-batch, and the in-process
throughput of ``SentimentClassifier.predict_proba`` on calls of the same size
(measured in this process while the server is idle). The client is a small
asyncio HTTP/1.1 client in this one process (cheaper than httpx, so that more
of the shared CPU goes to the server); it shares the machine's cores with the
server, so the figures are a floor for a server with its own machine.
Targets: p99 <= 50 ms for 1-text requests at 32 clients; >= 70% of the
in-process throughput for 100-text requests; zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str | None, port: int, batch_wait_ms: float) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "sentiment",
        "serve",
        "--port",
        str(port),
        "--quiet",
        "--batch-wait-ms",
        str(batch_wait_ms),
    ]
    if model:
        cmd += ["--model", model]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"error: the server exited with {proc.returncode} (run the command to see why: {' '.join(cmd)})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    sys.exit("error: the server was not ready after 180 s")


def request_bytes(port: int, texts: list[str]) -> bytes:
    body = json.dumps({"texts": texts}, ensure_ascii=False).encode()
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def load(
    port: int, requests: list[bytes], clients: int, warmup: float, seconds: float, check: dict[int, np.ndarray]
) -> dict:
    """``clients`` connections send ``requests`` (cycled) back to back; latencies after the warm-up."""
    latencies: list[float] = []
    errors: list[str] = []
    texts_done = sent = 0
    count = [len(json.loads(r.split(b"\r\n\r\n", 1)[1])["texts"]) for r in requests]
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds

    async def client(k: int) -> None:
        nonlocal texts_done, sent
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            errors.append(f"connect: {exc}")
            return
        i = k
        try:
            while True:
                started = time.perf_counter()
                if started >= stop_at:
                    break
                index = i % len(requests)
                writer.write(requests[index])
                status, body = await read_response(reader)
                ended = time.perf_counter()
                sent += 1
                if status != 200:
                    errors.append(f"HTTP {status}: {body[:200]!r}")
                elif i < k + clients * 2 and index in check:  # a few answers checked against predict_proba
                    got = [
                        [p["probabilities"][key] for key in sorted(p["probabilities"])]
                        for p in json.loads(body)["predictions"]
                    ]
                    if not np.allclose(got, check[index], atol=1e-5):
                        errors.append(f"request {index}: probabilities differ from predict_proba")
                if started >= measure_from:
                    latencies.append(ended - started)
                    texts_done += count[index]
                i += clients
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            writer.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "requests_all": sent,
        "texts_per_s": texts_done / seconds,
        "errors": len(errors),
        "error_examples": errors[:3],
        **{f"p{q}_ms": float(np.percentile(ms, q)) if len(ms) else None for q in (50, 95, 99)},
    }


def in_process(clf, batches: list[list[str]], seconds: float) -> dict:
    """predict_proba called back to back on the same request sizes, one thread."""
    for batch in batches[:3]:
        clf.predict_proba(batch)
    done, calls, latencies = 0, 0, []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = batches[calls % len(batches)]
        t0 = time.perf_counter()
        clf.predict_proba(batch)
        latencies.append(time.perf_counter() - t0)
        done += len(batch)
        calls += 1
    elapsed = time.perf_counter() - started
    return {"calls": calls, "texts_per_s": done / elapsed, "p50_ms": float(np.median(latencies) * 1000)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_batches(port: int) -> tuple[float, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(("sentiment_batch_texts_sum", "sentiment_batch_texts_count")):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values.get("sentiment_batch_texts_sum", 0.0), values.get("sentiment_batch_texts_count", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model bundle (default: the packaged model)")
    parser.add_argument(
        "--data",
        default=str(ROOT / "data" / "sample" / "comments.csv"),
        help="CSV/TSV(.gz) with a 'document' column: the texts sent (default: the sample)",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per request size (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each (default 1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100], help="texts per request (default 1 100)")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0, help="the server's --batch-wait-ms")
    parser.add_argument("--json-out", help="write the figures as JSON here")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sep = "\t" if ".tsv" in args.data else ","
    texts = [
        t
        for t in pd.read_csv(args.data, sep=sep, quoting=3 if sep == "\t" else 0, dtype=str, keep_default_na=False)[
            "document"
        ].tolist()
        if t.strip()
    ]
    from sentiment import SentimentClassifier

    clf = SentimentClassifier.load(args.model)
    port = free_port()
    proc = start_server(args.model, port, args.batch_wait_ms)
    results: dict[str, dict] = {}
    # the client's own full collections (pandas, numpy and the model are loaded here) would pause every client at
    # once and show up as server latency: freeze what is loaded before measuring
    gc.collect()
    gc.freeze()
    try:
        for size in args.sizes:
            batches = [[texts[(i * size + j) % len(texts)] for j in range(size)] for i in range(64)]
            base = in_process(clf, batches, min(args.seconds, 5.0))
            check = {i: clf.predict_proba(batches[i]) for i in range(min(8, len(batches)))}
            before = server_batches(port)
            cpu_before, client_before = cpu_seconds(proc.pid), time.process_time()
            served = asyncio.run(
                load(port, [request_bytes(port, b) for b in batches], args.clients, args.warmup, args.seconds, check)
            )
            after = server_batches(port)
            total = served["requests_all"]
            served["server_cpu_ms_per_request"] = (cpu_seconds(proc.pid) - cpu_before) * 1000 / max(total, 1)
            served["client_cpu_ms_per_request"] = (time.process_time() - client_before) * 1000 / max(total, 1)
            served["mean_batch_texts"] = (after[0] - before[0]) / max(after[1] - before[1], 1)
            served["in_process_texts_per_s"] = base["texts_per_s"]
            served["in_process_p50_ms"] = base["p50_ms"]
            served["share_of_in_process"] = served["texts_per_s"] / base["texts_per_s"]
            results[str(size)] = served
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    print(
        f"sentiment serve on 127.0.0.1, {args.clients} clients, {args.seconds:g} s per size, "
        f"{os.cpu_count()} cores shared by server and client; server exit code after SIGTERM: {code}"
    )
    print(
        "| texts/request | requests | texts/s served | p50 ms | p95 ms | p99 ms | errors | mean batch | "
        "in-process texts/s | served / in-process | CPU ms/request server, client |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, r in results.items():
        print(
            f"| {size} | {r['requests']:,} | {r['texts_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['errors']} | {r['mean_batch_texts']:.1f} | {r['in_process_texts_per_s']:,.0f} | "
            f"{r['share_of_in_process']:.0%} | {r['server_cpu_ms_per_request']:.2f}, "
            f"{r['client_cpu_ms_per_request']:.2f} |"
        )
        for example in r["error_examples"]:
            print(f"  error: {example}")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "clients": args.clients,
                    "seconds": args.seconds,
                    "model": args.model or "default",
                    "results": results,
                    "server_exit_code": code,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
