"""A comment's probability is a function of the comment and the model alone, on every path the package offers.

For each runtime and precision (ONNX Runtime fp32 with 1 and 2 threads, the static int8 graph with 1 and 2
threads, Keras), every path gives each comment the probability it gets when scored alone (to 1e-6): shuffled
batches of several sizes, single rows, ``score_file`` with two chunk sizes and after a resume, the HTTP service
(concurrent requests sharing micro-batches) and the Ray engine, in fp32 and int8.
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, run_cli

from sentiment import SentimentClassifier
from sentiment.apps.scoring import score_file

ATOL = 1e-6
RUNTIMES = {
    "onnx-fp32-1thread": {"runtime": "onnx", "precision": "fp32", "threads": 1},
    "onnx-fp32-2threads": {"runtime": "onnx", "precision": "fp32", "threads": 2},
    "onnx-int8-1thread": {"runtime": "onnx", "precision": "int8", "threads": 1},
    "onnx-int8-2threads": {"runtime": "onnx", "precision": "int8", "threads": 2},
    "keras": {"runtime": "keras"},
}


def quiet(msg):
    return None


@pytest.fixture(scope="module")
def texts(sample_frame) -> list[str]:
    docs = sample_frame["document"].tolist()
    long = " ".join(docs[:30])  # longer than maxlen: truncated, in batches with short rows
    return [*docs, long, docs[0], "ㅋ", docs[5]]  # duplicates land in different batches


@pytest.fixture(scope="module", params=list(RUNTIMES))
def loaded(request, tiny_model_dir, texts):
    """(classifier, each text's probabilities scored alone)."""
    clf = SentimentClassifier.load(tiny_model_dir, **RUNTIMES[request.param])
    alone = np.vstack([clf.predict_proba([t]) for t in texts])
    return clf, alone


def test_auto_loads_only_the_int8_it_was_measured_with(tiny_model_dir, tmp_path):
    """An int8 default recorded by earlier versions (dynamic quantization, batch-dependent) loads in fp32;
    one recorded with this version's static scheme loads in int8."""
    import json

    from sentiment.model.bundle import read_meta, set_default_precision

    path = tmp_path / "bundle"
    shutil.copytree(tiny_model_dir, path)
    set_default_precision(path, "int8", {"results": {}})
    assert SentimentClassifier.load(path).runtime_ == "onnx-int8"
    meta = read_meta(path)
    del meta["onnx"]["int8_scheme"]  # as earlier versions wrote it (meta.json holds no checksum of itself)
    (path / "meta.json").write_text(json.dumps(meta, indent=2))
    assert SentimentClassifier.load(path).runtime_ == "onnx"
    assert SentimentClassifier.load(path, precision="int8").runtime_ == "onnx-int8"  # when asked for
    set_default_precision(path, "fp32", {"results": {}})
    assert SentimentClassifier.load(path).runtime_ == "onnx" and "int8_scheme" not in read_meta(path)["onnx"]


def test_batches_orders_and_sizes(loaded, texts):
    clf, alone = loaded
    rng = np.random.default_rng(0)
    ids = clf.encode(texts)
    for batch_size in (1, 7, 64, 1024):
        order = rng.permutation(len(texts))
        got = clf.predict_ids([ids[i] for i in order], batch_size=batch_size)
        np.testing.assert_allclose(got, alone[order], atol=ATOL, rtol=0, err_msg=f"batch size {batch_size}")
    np.testing.assert_allclose(clf.predict_proba(texts[::-1]), alone[::-1], atol=ATOL, rtol=0)


def _probs(path) -> np.ndarray:
    return pd.read_csv(path)[["prob_0", "prob_1"]].to_numpy(float)


def test_score_file_chunk_sizes_and_resume(loaded, tiny_model_dir, tmp_path, monkeypatch):
    from sentiment.apps import scoring

    clf, _ = loaded
    frame = pd.read_csv(SAMPLE)
    texts = frame["document"].tolist()
    expected = np.round(np.vstack([clf.predict_proba([t]) for t in texts]).astype(np.float64), 6)  # as written
    for chunk in (37, 1000):
        out = tmp_path / f"chunk{chunk}.csv"
        score_file(SAMPLE, out, clf, chunksize=chunk, workers=1, log=quiet)
        np.testing.assert_allclose(_probs(out), expected, atol=ATOL + 1e-9, rtol=0, err_msg=f"chunk size {chunk}")

    out = tmp_path / "resumed.csv"
    write, written = scoring._Parts.write, []

    def stop_after_three(self, index, part, summary):
        if len(written) == 3:
            raise KeyboardInterrupt("killed")
        written.append(index)
        write(self, index, part, summary)

    with monkeypatch.context() as patch:
        patch.setattr(scoring._Parts, "write", stop_after_three)
        with pytest.raises(KeyboardInterrupt):
            score_file(SAMPLE, out, clf, chunksize=50, workers=1, log=quiet)
    summary = score_file(SAMPLE, out, clf, chunksize=50, workers=1, resume=True, log=quiet)
    assert summary.resumed_chunks == 3
    np.testing.assert_allclose(_probs(out), expected, atol=ATOL + 1e-9, rtol=0)


@pytest.mark.parametrize("precision", ["auto", "int8"])
def test_http_service_micro_batches(tiny_model_dir, texts, precision):
    """32 concurrent clients, one or a few texts each, share micro-batches; each text gets its probability alone."""
    import httpx
    import uvicorn

    from sentiment.apps.serving import create_app

    clf = SentimentClassifier.load(tiny_model_dir, precision=precision)  # what `sentiment serve` loads
    assert clf.runtime_ == ("onnx" if precision == "auto" else "onnx-int8")
    alone = np.vstack([clf.predict_proba([t]) for t in texts])
    app = create_app(clf, batch_wait_ms=20)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (server.started and server.servers):
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while client.get("/readyz").status_code != 200:
                time.sleep(0.05)
            requests = [list(range(i, min(i + 1 + i % 3, len(texts)))) for i in range(len(texts))]
            # One client (one connection) per thread, as 32 separate clients would be: httpcore's shared pool can
            # close a socket another thread is reading when more than its keep-alive limit are idle (EBADF in CI).
            local, clients = threading.local(), []

            def ask(rows):
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
                    clients.append(local.client)
                body = local.client.post("/v1/predict", json={"texts": [texts[i] for i in rows]})
                assert body.status_code == 200, body.text
                return rows, [[p["probabilities"]["0"], p["probabilities"]["1"]] for p in body.json()["predictions"]]

            try:
                with ThreadPoolExecutor(32) as pool:
                    for rows, got in pool.map(ask, requests):
                        np.testing.assert_allclose(np.array(got), alone[rows], atol=ATOL, rtol=0)
            finally:
                for each in clients:
                    each.close()
            metrics = client.get("/metrics").text
        value = {
            line.split()[0]: float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("sentiment_batch_requests_")
        }
        assert value["sentiment_batch_requests_sum"] > value["sentiment_batch_requests_count"]  # shared batches
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_ray_engine(tiny_model_dir, tmp_path, precision):
    pytest.importorskip("ray")
    from sentiment.apps.distributed import _ray_session, score_path

    clf = SentimentClassifier.load(tiny_model_dir, precision=precision)
    frame = pd.read_csv(SAMPLE)
    expected = np.vstack([clf.predict_proba([t]) for t in frame["document"].tolist()])
    src = tmp_path / "in"
    src.mkdir()
    frame.iloc[:150].to_csv(src / "a.csv", index=False)
    frame.iloc[150:].to_csv(src / "b.csv", index=False)
    with _ray_session(None, 2, quiet):
        for executor in ("actors", "ray-data"):  # the actor pool fed by this process; Ray Data's read tasks
            out = tmp_path / f"scored-{executor}"
            score_path(
                str(src),
                str(out),
                model=tiny_model_dir,
                concurrency=2,
                batch_size=33,
                precision=precision,
                executor=executor,
                log=quiet,
            )
            got = pd.concat([pd.read_parquet(p) for p in sorted(out.iterdir())], ignore_index=True)
            probs = got[["prob_0", "prob_1"]].to_numpy(float)
            np.testing.assert_allclose(probs, expected, atol=ATOL + 1e-9, rtol=0, err_msg=executor)


def test_int8_on_the_command_line_matches_the_python_api(tiny_model_dir, tmp_path):
    int8 = SentimentClassifier.load(tiny_model_dir, precision="int8")
    texts = pd.read_csv(SAMPLE)["document"].tolist()
    alone = np.vstack([int8.predict_proba([t]) for t in texts])
    out = tmp_path / "int8.csv"
    result = run_cli(
        "score", str(SAMPLE), "-o", str(out), "--model", str(tiny_model_dir), "--precision", "int8", "--workers", "2"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(onnx-int8)" in result.stderr and "batch-dependent" not in result.stderr
    np.testing.assert_allclose(_probs(out), np.round(alone.astype(np.float64), 6), atol=ATOL + 1e-9, rtol=0)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_packaged_model_alone_batched_and_any_thread_count(texts, precision):
    """The packaged BiLSTM through ONNX Runtime in each precision: a comment's probability is the same alone, in
    shuffled batches, and with 1 or 2 inference threads."""
    one = SentimentClassifier.load(precision=precision, threads=1)
    two = SentimentClassifier.load(precision=precision, threads=2)
    assert one.runtime_ == two.runtime_ == ("onnx" if precision == "fp32" else "onnx-int8")
    ids = one.encode(texts)
    alone = np.vstack([one.predict_ids([i]) for i in ids])
    order = np.random.default_rng(1).permutation(len(ids))
    for clf in (one, two):
        for batch_size in (16, 1024):
            got = clf.predict_ids([ids[i] for i in order], batch_size=batch_size)
            np.testing.assert_allclose(got, alone[order], atol=ATOL, rtol=0)
