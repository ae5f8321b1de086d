#!/usr/bin/env python
"""How fast the labeling page of `sentiment label` answers a decision and shows the next comment.

    python benchmarks/labeling_page.py                          # data/sample, 300 comments, 200 key presses
    python benchmarks/labeling_page.py --input comments.csv --n 300 --presses 200 --json-out page.json

Starts `sentiment label INPUT -o LABELS` (a fresh LABELS in a temporary folder, the packaged model) on a free
127.0.0.1 port in a subprocess, then measures two things:

* **browser**: headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) presses the keys
  1 / 0 / s in turn; the page itself records, for each press, the time from the keydown event to the next
  comment painted (a frame callback, then a task), after the server has written LABELS durably
  (temporary file, fsync, rename, folder fsync). Every 10th press is `z` (undo), measured the same way.
* **HTTP**: the same decisions posted straight to ``/api/decide`` from this process (no browser), for the
  server's share of the time.

Prints p50 / p95 / max per measure, and checks that LABELS holds exactly one decision per pressed comment.
Target: the next comment shown in under 100 ms (p95).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def start_page(source: Path, labels: Path, n: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentiment", "label", str(source), "-o", str(labels), "--n", str(n), "--port", "0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            match = re.search(r"labeling page: (http://127\.0\.0\.1:\d+/)", line)
            if match:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(600)
    if not found:
        proc.kill()
        raise SystemExit("the labeling page did not start")
    return proc, found[0]


def summary(ms: list[float]) -> dict[str, float]:
    arr = np.asarray(ms, dtype=float)
    return {
        "count": len(arr),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "max_ms": round(float(arr.max()), 1),
    }


def browser_run(url: str, presses: int) -> dict[str, list[float]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    decide, undo = [], []
    try:
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: " / " in d.find_element("id", "progress-text").text)
        for i in range(presses):
            key = "z" if i % 10 == 9 else "10s"[i % 3]
            before = driver.execute_script("return window.labelingTimings.length")
            ActionChains(driver).send_keys(key).perform()
            WebDriverWait(driver, 30).until(
                lambda d, before=before: d.execute_script("return window.labelingTimings.length") > before
            )
            elapsed = driver.execute_script("return window.labelingTimings[window.labelingTimings.length - 1]")
            (undo if key == "z" else decide).append(float(elapsed))
    finally:
        driver.quit()
    return {"decide": decide, "undo": undo}


def http_run(url: str, presses: int) -> list[float]:
    def call(path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url + path.lstrip("/"), data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    state = call("/api/state")
    times = []
    for i in range(presses):
        if state["current"] is None:
            break
        start = time.perf_counter()
        state = call("/api/decide", {"row": state["current"]["row"], "decision": ("positive", "negative")[i % 2]})
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", default=str(ROOT / "data" / "sample" / "comments.csv"))
    parser.add_argument("--n", type=int, default=300, help="comments chosen (default 300)")
    parser.add_argument("--presses", type=int, default=200, help="key presses in the browser (default 200)")
    parser.add_argument("--json-out")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels.csv"
        proc, url = start_page(Path(args.input), labels, args.n)
        try:
            browser = browser_run(url, args.presses)
            http = http_run(url, args.n)  # the rest of the comments
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        frame = pd.read_csv(labels, keep_default_na=False, dtype=str)
    decided = int((frame["decided_at"] != "").sum())
    presses = len(browser["decide"]) - len(browser["undo"])  # each undo takes one decision back
    result = {
        "input": args.input,
        "comments": len(frame),
        "decided": decided,
        "expected_decided": min(len(frame), presses + len(http)),
        "browser_keydown_to_next_comment": summary(browser["decide"]),
        "browser_undo_to_comment": summary(browser["undo"]) if browser["undo"] else None,
        "http_decide_round_trip": summary(http) if http else None,
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if decided != result["expected_decided"]:
        raise SystemExit(f"LABELS holds {decided} decisions, expected {result['expected_decided']}")


if __name__ == "__main__":
    main()
