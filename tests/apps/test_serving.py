"""`sentiment serve`: a real uvicorn server in a subprocess, called over HTTP with httpx.

One server is started for the module (the SIGTERM test, last in the file, stops it).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from conftest import ROOT, assert_user_error, run_cli

KEY = "test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_TEXTS = 200
MAX_BODY = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log_path) -> None:
        self.proc, self.port, self.log_path = proc, port, log_path
        self.url = f"http://127.0.0.1:{port}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]


def wait_ready(srv: Server, seconds: float = 120) -> None:
    """Until the server's /readyz answers 200; fails with its log if it exits or takes longer."""
    deadline = time.monotonic() + seconds
    while True:
        assert srv.proc.poll() is None, f"server exited with {srv.proc.returncode}:\n{srv.log_text()}"
        assert time.monotonic() < deadline, f"server not ready:\n{srv.log_text()}"
        try:
            if httpx.get(f"{srv.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 (the server writes to it until the fixture ends)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "SERVE_TEST_KEY": KEY}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentiment",
            "serve",
            "--model",
            str(tiny_model_dir),
            "--port",
            str(port),
            "--max-texts",
            str(MAX_TEXTS),
            "--max-body-bytes",
            str(MAX_BODY),
            "--api-key-env",
            "SERVE_TEST_KEY",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    srv = Server(proc, port, log_path)
    wait_ready(srv)
    yield srv
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def texts(sample_frame) -> list[str]:
    return sample_frame["document"].tolist()[:150]


def predict(client, texts, **extra):
    response = client.post("/v1/predict", json={"texts": texts, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def probabilities(body) -> np.ndarray:
    return np.array([[p["probabilities"][k] for k in sorted(p["probabilities"])] for p in body["predictions"]])


def test_predictions_equal_the_python_api(client, tiny_model, texts):
    sent = texts[:40] + ["", "   \t\n", "ㅋㅋㅋㅋㅋㅋㅋ", "배송 빠르고 좋아요 👍"]
    body = predict(client, sent)
    assert re.fullmatch(r"[0-9a-f]{12}", body["model"])
    statuses = [p["status"] for p in body["predictions"]]
    assert statuses == ["ok"] * 40 + ["empty", "empty", "ok", "ok"]
    for p in body["predictions"][40:42]:
        assert p["label"] is None and p["probabilities"] is None
    ok = [t for t, s in zip(sent, statuses) if s == "ok"]
    got = probabilities({"predictions": [p for p in body["predictions"] if p["status"] == "ok"]})
    expected = tiny_model.predict_proba(ok)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    labels = [p["label"] for p in body["predictions"] if p["status"] == "ok"]
    assert labels == tiny_model.classes_[expected.argmax(axis=1)].tolist()
    assert set(body["predictions"][0]["probabilities"]) == {str(c) for c in tiny_model.classes_.tolist()}


def test_threshold_and_long_texts(client, tiny_model, texts):
    from sentiment.apps.scoring import predicted_classes

    long_text = "이 영화 정말 최고 " * 1000  # far past normalize.max_chars and sequence.maxlen: truncated
    sent = texts[:30] + [long_text]
    body = predict(client, sent, threshold=0.8)
    expected = tiny_model.predict_proba(sent)
    np.testing.assert_allclose(probabilities(body), expected, atol=1e-6)
    assert [p["label"] for p in body["predictions"]] == predicted_classes(expected, tiny_model.classes_, 0.8).tolist()
    assert predict(client, [])["predictions"] == []


def test_model_health_docs(client, server, tiny_model):
    info = client.get("/v1/model").json()
    assert info["labels"] == tiny_model.classes_.tolist()
    assert info["model"] == predict(client, ["좋아요"])["model"]
    assert info["config"]["sequence"]["maxlen"] == tiny_model.config_.sequence.maxlen
    assert info["truncation"]["max_chars"] == tiny_model.config_.normalize.max_chars
    assert info["versions"] == tiny_model.meta_["versions"]
    assert info["limits"]["max_texts"] == MAX_TEXTS
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
    assert httpx.get(f"{server.url}/docs").status_code == 200
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/healthz", "/readyz"} <= set(schema["paths"])


def _threshold_message(value: float, classes) -> str:
    from sentiment.apps.scoring import check_threshold
    from sentiment.errors import DataError

    with pytest.raises(DataError) as info:
        check_threshold(value, classes, option="threshold")
    return str(info.value)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b'{"texts": ["a", ', "not valid JSON (Expecting value at character 16)"),
        (b'["a"]', "valid dictionary"),
        (b"{}", "texts: Field required"),
        (b'{"texts": "one text"}', "texts: Input should be a valid list"),
        (b'{"texts": ["ok", 5]}', "texts[1]: Input should be a valid string"),
        (b'{"texts": ["ok", null]}', "texts[1]"),
        (b'{"texts": ["ok"], "threshold": "high"}', "threshold: Input should be a valid number"),
        (b'{"texts": ["ok"], "treshold": 0.7}', "treshold: unknown field"),
        (b'{"texts": ["ok"], "threshold": 1.5}', None),
        (b'{"texts": ["ok"], "threshold": 0}', None),
    ],
)
def test_bad_json_is_422_naming_the_field(client, tiny_model, content, fragment):
    response = client.post("/v1/predict", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    if fragment is None:  # the threshold's wording is the CLI's, naming the JSON field
        value = float(json.loads(content)["threshold"])
        assert error == _threshold_message(value, tiny_model.classes_)
    else:
        assert fragment in error, error


def test_limits_are_413(client, server):
    response = client.post("/v1/predict", json={"texts": ["좋아요"] * (MAX_TEXTS + 1)})
    assert response.status_code == 413 and f"{MAX_TEXTS + 1} texts" in response.json()["error"]
    big = {"texts": ["가" * 1000] * 30}  # ~90 KB of UTF-8, under MAX_TEXTS
    response = client.post("/v1/predict", json=big)
    assert response.status_code == 413 and "--max-body-bytes" in response.json()["error"]

    def chunks():  # no Content-Length: the size is counted as the body streams in
        yield b'{"texts": ['
        for _ in range(100):
            yield json.dumps(["나" * 300] * 3).strip("[]").encode() + b", "
        yield '"끝"]}'.encode()

    response = client.post("/v1/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "--max-body-bytes" in response.json()["error"]
    assert predict(client, ["괜찮아요"])["predictions"][0]["status"] == "ok"  # still serving


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": f"Bearer {KEY}x"}],
)
def test_api_key_is_required(server, headers):
    for method, path in (("POST", "/v1/predict"), ("GET", "/v1/model")):
        response = httpx.request(method, f"{server.url}{path}", json={"texts": ["좋아요"]}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer" and "API key" in response.json()["error"]
    assert httpx.get(f"{server.url}/healthz", headers=headers).status_code == 200


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_32_concurrent_clients_in_order_and_counted(server, client, tiny_model, texts):
    before = client.get("/metrics").text
    n_clients, rounds = 32, 4
    barrier = threading.Barrier(n_clients)
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
                barrier.wait()
                for r in range(rounds):
                    start = (i * 7 + r * 13) % (len(texts) - 10)
                    size = 1 + (i + r) % 8
                    results[(i, r)] = (texts[start : start + size], predict(c, texts[start : start + size]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(results) == n_clients * rounds
    sent = [t for batch, _ in results.values() for t in batch]
    expected = dict(zip(sent, tiny_model.predict_proba(sent)))
    for batch, body in results.values():
        assert len(body["predictions"]) == len(batch)
        np.testing.assert_allclose(probabilities(body), np.array([expected[t] for t in batch]), atol=1e-6)

    after = client.get("/metrics").text
    n = n_clients * rounds
    ok = dict(name="sentiment_http_requests_total", path="/v1/predict", method="POST", status="200")
    assert _metric(after, **ok) - _metric(before, **ok) == n
    assert _metric(after, "sentiment_texts_total", status="ok") - _metric(
        before, "sentiment_texts_total", status="ok"
    ) == len(sent)
    batches = _metric(after, "sentiment_batch_requests_count") - _metric(before, "sentiment_batch_requests_count")
    gathered = _metric(after, "sentiment_batch_requests_sum") - _metric(before, "sentiment_batch_requests_sum")
    assert gathered == n and batches < n  # concurrent requests shared model calls
    assert _metric(after, "sentiment_http_request_duration_seconds_count", path="/v1/predict") >= n
    assert _metric(after, "sentiment_http_requests_total", status="401") >= 8  # the auth test's refusals


def test_micro_batcher_limits_and_drain():
    from sentiment.apps.serving import MicroBatcher

    calls: list[list[str]] = []

    def score(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return np.array([[float(len(t)), 0.0] for t in batch])

    async def main():
        batcher = MicroBatcher(score, max_wait=0.05, max_batch=5)
        batcher.start()
        jobs = [asyncio.ensure_future(batcher.predict(["x" * (i + 1)] * (1 + i % 3))) for i in range(8)]
        await asyncio.sleep(0)
        await batcher.stop()  # queued jobs are still scored
        return [await job for job in jobs]

    out = asyncio.run(main())
    for i, proba in enumerate(out):
        assert proba[:, 0].tolist() == [i + 1.0] * (1 + i % 3)
    assert all(len(batch) <= 5 for batch in calls) and sum(map(len, calls)) == sum(1 + i % 3 for i in range(8))
    assert len(calls) < 8


def test_micro_batcher_failed_warmup_answers_with_the_reason():
    from sentiment.apps.serving import BatcherStopped, MicroBatcher

    def warmup():
        raise OSError("model file vanished")

    async def main():
        batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 2)))
        batcher.start(warmup=warmup)
        waiting = asyncio.ensure_future(batcher.predict(["좋아요"]))  # queued during the warm-up
        with pytest.raises(BatcherStopped, match="model file vanished"):
            await waiting
        with pytest.raises(BatcherStopped, match="failed to warm up"):
            await batcher.predict(["좋아요"])
        assert "OSError" in batcher.problem()
        await batcher.stop()

    asyncio.run(main())


@pytest.mark.parametrize(
    "setting, value", [("max_texts", 0), ("max_body_bytes", 10), ("max_batch", 0), ("batch_wait_ms", -1.0)]
)
def test_create_app_refuses_bad_limits(tiny_model, setting, value):
    from sentiment.apps.serving import create_app
    from sentiment.errors import SentimentError

    with pytest.raises(SentimentError, match=f"--{setting.replace('_', '-')}. = {value} is invalid"):
        create_app(tiny_model, **{setting: value})


def test_cli_errors(tiny_model_dir, tmp_path):
    shadow = tmp_path / "uvicorn"  # as if the serve extra were not installed
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    assert_user_error(
        subprocess.run(
            [sys.executable, "-m", "sentiment", "serve"], cwd=ROOT, env=env, text=True, capture_output=True, timeout=60
        ),
        'pip install "sentiment[serve]"',
        "uvicorn",
    )
    env_var = "SENTIMENT_SERVE_TEST_UNSET_KEY"
    os.environ.pop(env_var, None)
    assert_user_error(
        run_cli("serve", "--model", str(tiny_model_dir), "--api-key-env", env_var, timeout=60), env_var, "not set"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_user_error(
            run_cli("serve", "--model", str(tiny_model_dir), "--port", str(port), timeout=60),
            f"127.0.0.1:{port}",
            "--port",
        )


def test_precision_option_serves_the_int8_graph(tiny_model_dir, texts, tmp_path):
    """`sentiment serve --precision int8`: the answers are the int8 classifier's, each as if scored alone."""
    from sentiment import SentimentClassifier

    port = free_port()
    log_path = tmp_path / "int8.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "sentiment", "serve", "--model", str(tiny_model_dir), "--port", str(port)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*command, "--precision", "int8"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_ready(Server(proc, port, log_path))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            body = predict(c, texts[:40])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    int8 = SentimentClassifier.load(tiny_model_dir, precision="int8")
    alone = np.vstack([int8.predict_proba([t]) for t in texts[:40]])
    np.testing.assert_allclose(probabilities(body), alone, atol=1e-6)
    assert "onnx-int8" in log_path.read_text()


# Keep this test last: it stops the module's server.
def test_sigterm_finishes_requests_in_flight(server, tiny_model, texts):
    half_sent = socket.create_connection(("127.0.0.1", server.port))
    payload = json.dumps({"texts": texts[:20]}).encode()
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    half_sent.sendall(head + payload[:25])  # a request in flight: its body is still arriving
    time.sleep(0.3)

    async def burst():
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60) as c:
            tasks = [
                asyncio.ensure_future(c.post("/v1/predict", json={"texts": texts[i : i + 50]}))
                for i in range(0, 100, 10)
            ]
            await asyncio.sleep(0.2)  # sent and being scored
            server.proc.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks)

    responses = asyncio.run(burst())
    time.sleep(0.3)
    half_sent.sendall(payload[25:])
    raw = b""
    while chunk := half_sent.recv(65536):
        raw += chunk
    half_sent.close()
    assert server.proc.wait(timeout=60) == 0, server.log_text()
    status, _, rest = raw.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", raw[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    np.testing.assert_allclose(probabilities(body), tiny_model.predict_proba(texts[:20]), atol=1e-6)
    for i, response in zip(range(0, 100, 10), responses):
        assert response.status_code == 200
        np.testing.assert_allclose(
            probabilities(response.json()), tiny_model.predict_proba(texts[i : i + 50]), atol=1e-6
        )


def test_the_server_process_freezes_what_it_loaded_before_serving():
    """`sentiment serve` calls freeze_startup_objects() before uvicorn: what is loaded then (the model, its
    vocabulary) leaves the collector's generations, so a full collection during requests walks only their
    objects (the 50 ms pauses that made the p99 tail, docs/runtime.md)."""
    import gc

    from sentiment.apps.serving import freeze_startup_objects

    loaded = [{"token": i} for i in range(20_000)]  # stands for the vocabulary and the model's objects
    gc.unfreeze()
    try:
        freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen >= len(loaded)
        tracked = len(gc.get_objects())  # what a full collection walks now
        assert tracked < frozen
    finally:
        gc.unfreeze()
    assert len(gc.get_objects()) >= tracked + len(loaded)
