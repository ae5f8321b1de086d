"""The HTTP service: a FastAPI app around one :class:`~sentiment.SentimentClassifier`.

>>> app = create_app("models/mine", max_texts=500, api_key="s3cret")   # any ASGI server can run it
>>> run_server(host="127.0.0.1", port=8000)                           # what ``sentiment serve`` calls

Endpoints: ``POST /v1/predict``, ``GET /v1/model``, ``GET /healthz``,
``GET /readyz``, ``GET /metrics`` (Prometheus text format), OpenAPI at ``/docs``.

Concurrent requests are gathered for at most ``batch_wait_ms`` into one call of
``predict_proba`` (micro-batching, :class:`MicroBatcher`) that runs in a
single worker thread; the event loop only parses, validates and answers.
Everything an app holds (the batcher, its thread, the Prometheus registry) is
created per app: no global state. FastAPI, uvicorn and prometheus-client are
only imported here (``pip install "sentiment[serve]"``).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import json
import signal
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..classifier import SentimentClassifier
from ..errors import DataError, SentimentError
from ..model.bundle import bundle_id
from .scoring import STATUS_OK, check_threshold, predicted_classes, row_status

DEFAULT_MAX_TEXTS = 1000
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_BATCH_WAIT_MS = 2.0
DEFAULT_MAX_BATCH = 1024
WARMUP_TEXTS = ["배우 연기 정말 최고", "시간 아깝다 이런 영화는 다시는 안 본다 진짜 별로", "ㅋㅋ"]
PROTECTED_PREFIX = "/v1/"


# -- request and response bodies (also the OpenAPI schema) ------------------------------
class PredictRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"texts": ["배우 연기 정말 최고", "시간 아깝다"], "threshold": 0.7}]},
    )

    texts: list[str] = Field(
        description="comments to score, in order; at most --max-texts of them. Empty or "
        "whitespace-only texts get status 'empty'. Texts longer than the "
        "model's normalize.max_chars characters (then sequence.maxlen tokens) "
        "are truncated as in training"
    )
    threshold: float | None = Field(
        None,
        description="two-class models only: predict the second class when "
        "its probability is at least this (0 < threshold < 1); "
        "default: the bundle's fitted decision rule "
        "(GET /v1/model, 'decision'), else the likelier class",
    )


class Prediction(BaseModel):
    label: int | str | None = Field(description="predicted class (null unless status is 'ok')")
    probabilities: dict[str, float] | None = Field(
        description="probability of each class, keyed by class (null unless status is 'ok')"
    )
    status: str = Field(description="'ok', or why the text was not scored: 'empty' (empty or whitespace)")


class PredictResponse(BaseModel):
    model: str = Field(description="id of the model bundle that answered (12 hex digits)")
    predictions: list[Prediction] = Field(description="one per input text, in input order")


# -- micro-batching ----------------------------------------------------------------------
@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future
    queued: float


_STOP = object()


class BatcherStopped(RuntimeError):
    """The batcher is not running: not started (no lifespan), stopped, or its warm-up failed."""


@dataclass
class MicroBatcher:
    """Gathers the texts of concurrent requests into one model call in one worker thread.

    A batch starts with the oldest waiting request and takes the requests that
    arrive until ``max_wait`` seconds after that request was queued, or until
    ``max_batch`` texts (one request is never split; a larger one goes alone).
    Requests that queued while the model was busy therefore go at once.
    ``score(texts) -> (n, n_classes)`` runs in the worker thread, never on the
    event loop; ``on_batch(texts, requests, seconds)`` is called after each batch.
    """

    score: Callable[[list[str]], np.ndarray]
    max_wait: float = DEFAULT_BATCH_WAIT_MS / 1000
    max_batch: int = DEFAULT_MAX_BATCH
    on_batch: Callable[[int, int, float], None] = lambda texts, requests, seconds: None
    _queue: asyncio.Queue | None = field(default=None, init=False)
    _task: asyncio.Task | None = field(default=None, init=False)
    _executor: ThreadPoolExecutor | None = field(default=None, init=False)
    _failure: str | None = field(default=None, init=False)

    def start(self, warmup: Callable[[], Any] | None = None, on_ready: Callable[[], None] = lambda: None) -> None:
        """Start the batching task (in the running loop); ``warmup`` runs in the worker thread first."""
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentiment-model")
        self._task = asyncio.get_running_loop().create_task(self._run(warmup, on_ready))

    async def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities for ``texts`` (scored together with other requests' texts)."""
        if self._queue is None or self._task is None or self._task.done():
            raise BatcherStopped(self.problem() or "the model is not running (the app's lifespan did not start it)")
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop.create_future(), loop.time())
        self._queue.put_nowait(job)
        return await job.future

    def problem(self) -> str | None:
        """Why the batcher stopped by itself (its warm-up failed), or None."""
        return self._failure

    async def stop(self) -> None:
        """Score everything already queued, then stop the task and the worker thread."""
        if self._task is None:
            return
        self._queue.put_nowait(_STOP)
        await asyncio.gather(self._task, return_exceptions=True)  # a failed warm-up was reported already
        self._executor.shutdown(wait=True)
        self._task = None

    async def _run(self, warmup: Callable[[], Any] | None, on_ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        if warmup is not None:
            try:
                await loop.run_in_executor(self._executor, warmup)
            except Exception as exc:  # requests that came during the warm-up fail with the reason
                self._failure = f"the model failed to warm up ({type(exc).__name__}: {exc})"
                while (job := self._next_nowait()) is not None:
                    if job is not _STOP and not job.future.done():
                        job.future.set_exception(BatcherStopped(self._failure))
                raise
        on_ready()
        carry: _Job | None = None
        stopping = False
        while not stopping or carry is not None:
            first = carry if carry is not None else await self._queue.get()
            carry = None
            if first is _STOP:
                stopping = True
                first = self._next_nowait()
                if first is None:
                    break
            batch, size = [first], len(first.texts)
            deadline = first.queued + self.max_wait
            while size < self.max_batch:
                job = self._next_nowait()
                if job is None and not stopping:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self._queue.get(), timeout)
                    except TimeoutError:
                        break
                if job is None:
                    break
                if job is _STOP:
                    stopping = True
                    continue
                if size + len(job.texts) > self.max_batch:
                    carry = job
                    break
                batch.append(job)
                size += len(job.texts)
            await self._score(loop, batch, size)
            if stopping and carry is None:
                carry = self._next_nowait()

    def _next_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def _score(self, loop: asyncio.AbstractEventLoop, batch: list[_Job], size: int) -> None:
        texts = [text for job in batch for text in job.texts]
        started = time.perf_counter()
        try:
            proba = await loop.run_in_executor(self._executor, self.score, texts)
        except Exception as exc:  # a model failure fails these requests, not the batcher
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.on_batch(size, len(batch), time.perf_counter() - started)
        start = 0
        for job in batch:
            end = start + len(job.texts)
            if not job.future.done():  # done: the client went away
                job.future.set_result(proba[start:end])
            start = end


# -- model facts ------------------------------------------------------------------------
def model_id(clf: SentimentClassifier) -> str:
    """A stable id of the loaded bundle: the first 12 hex digits of the sha256 of its files' checksums
    (meta.json's ``files``); for an unsaved model, of its weights."""
    identifier = bundle_id(getattr(clf, "meta_", {}))
    if not identifier:
        digest = hashlib.sha256()
        for weights in clf.model_.get_weights():
            digest.update(np.ascontiguousarray(weights).tobytes())
        identifier = digest.hexdigest()
    return identifier[:12]


def model_summary(clf: SentimentClassifier, identifier: str) -> dict[str, Any]:
    """What ``GET /v1/model`` answers: labels, the config that shapes predictions, metrics, versions."""
    from ..model.bundle import package_versions

    meta = getattr(clf, "meta_", {})
    cfg = clf.config_.to_dict()
    training = meta.get("training", getattr(clf, "training_", {}))
    return {
        "model": identifier,
        "labels": clf.classes_.tolist(),
        "vocab_size": len(clf.vocabulary_),
        "config": {name: cfg[name] for name in ("normalize", "tokenizer", "sequence", "model")},
        "truncation": {
            "max_chars": clf.config_.normalize.max_chars,
            "maxlen": clf.config_.sequence.maxlen,
            "truncating": clf.config_.sequence.truncating,
        },
        "metrics": training.get("metrics", {}),
        "training": {
            key: training[key] for key in ("rows", "class_counts", "epochs_run", "data_fingerprint") if key in training
        },
        "versions": meta.get("versions") or package_versions(),
        "decision": rule.to_dict(clf.classes_.tolist()) if (rule := getattr(clf, "decision_", None)) else None,
    }


# -- ASGI layers ----------------------------------------------------------------------------
def _error(message: str) -> dict[str, str]:
    """The body of every error but 422's: a readable line under ``error`` (``detail`` as FastAPI names it)."""
    return {"error": message, "detail": message}


async def _send_json(
    send: Callable, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (FastAPI re-raises HTTP exceptions)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body is larger than {limit:,} bytes (--max-body-bytes); send fewer or shorter texts per request",
        )


class Guard:
    """Checks that run before a body is read: the API key (401) on /v1/ paths and the body size (413)
    from Content-Length, then while the body streams in."""

    def __init__(self, app: Callable, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    def _authorized(self, scope: dict[str, Any]) -> bool:
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.api_key is not None and scope["path"].startswith(PROTECTED_PREFIX) and not self._authorized(scope):
            message = "missing or wrong API key; send the header 'Authorization: Bearer <key>'"
            return await _send_json(send, 401, _error(message), {"WWW-Authenticate": "Bearer"})
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return await _send_json(send, 413, _error(BodyTooLarge(limit).detail), {"Connection": "close"})
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


class RequestMetrics:
    """Counts requests by path, method and status code and times them (the outermost layer)."""

    def __init__(self, app: Callable, *, requests: Counter, latency: Histogram, paths: frozenset[str]) -> None:
        self.app, self.requests, self.latency, self.paths = app, requests, latency, paths

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope["path"] if scope["path"] in self.paths else "other"
            self.requests.labels(path, scope["method"], str(status)).inc()
            self.latency.labels(path).observe(time.perf_counter() - started)


# -- errors as JSON -------------------------------------------------------------------------
def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or "body"


def _validation_message(errors: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One readable line and a JSON-safe list (no echo of the input) for FastAPI's validation errors."""
    clean, lines = [], []
    for err in errors:
        name = _field_name(err.get("loc", ()))
        if err.get("type") == "json_invalid":  # loc: ("body", character position)
            name, where = "body", f" at character {err['loc'][-1]}" if len(err.get("loc", ())) > 1 else ""
            line = (
                f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')}{where}); "
                f'send e.g. {{"texts": ["좋아요"]}} with Content-Type: application/json'
            )
        elif err.get("type") == "missing" and name == "body":
            line = 'the request body is missing; send JSON like {"texts": ["좋아요"]}'
        elif name == "body":
            line = (
                f'body: {err.get("msg")}; send a JSON object like {{"texts": ["좋아요"]}} with '
                f"Content-Type: application/json"
            )
        elif err.get("type") == "extra_forbidden":
            line = f"{name}: unknown field; the fields are 'texts' and 'threshold'"
        else:
            line = f"{name}: {err.get('msg')}"
        lines.append(line)
        clean.append({"loc": [str(p) for p in err.get("loc", ())], "field": name, "msg": line, "type": err.get("type")})
    shown = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")
    return shown, clean


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError) -> JSONResponse:
        message, detail = _validation_message(exc.errors())
        return JSONResponse({"error": message, "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 413:
            headers["Connection"] = "close"  # the rest of the body is not read
        return JSONResponse(_error(exc.detail), status_code=exc.status_code, headers=headers)


# -- the app ------------------------------------------------------------------------------------
def _check_limits(max_texts: int, max_body_bytes: int, batch_wait_ms: float, max_batch: int) -> None:
    for name, value, low in (
        ("max_texts", max_texts, 1),
        ("max_body_bytes", max_body_bytes, 1024),
        ("max_batch", max_batch, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SentimentError(
                f"{name} (--{name.replace('_', '-')}) = {value!r} is invalid; expected a whole number >= {low}"
            )
    if not 0 <= batch_wait_ms <= 1000:
        raise SentimentError(
            f"batch_wait_ms (--batch-wait-ms) = {batch_wait_ms!r} is invalid; expected 0 to 1000 milliseconds (e.g. 2)"
        )


def create_app(
    model: SentimentClassifier | str | Path | None = None,
    *,
    max_texts: int = DEFAULT_MAX_TEXTS,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    max_batch: int = DEFAULT_MAX_BATCH,
    precision: str = "auto",
) -> FastAPI:
    """The FastAPI app serving ``model`` (a fitted classifier, a bundle directory, or None: the packaged model;
    a directory is loaded in ``precision``, as ``SentimentClassifier.load``).

    The model is loaded here (bad bundles fail now, with a :class:`SentimentError`);
    it is warmed up in the worker thread when the app starts (``/readyz`` answers
    503 until then). ``api_key``: requests to ``/v1/...`` need
    ``Authorization: Bearer <api_key>``. The app must be run with its lifespan
    (uvicorn does this by default): it starts and, on shutdown, drains the batcher.
    """
    _check_limits(max_texts, max_body_bytes, batch_wait_ms, max_batch)
    clf = model if isinstance(model, SentimentClassifier) else SentimentClassifier.load(model, precision=precision)
    clf._check_fitted()
    identifier = model_id(clf)
    summary = model_summary(clf, identifier)
    classes = clf.classes_
    rule = getattr(clf, "decision_", None)  # the bundle's fitted decision rule (None: the likelier class)
    keys = [str(c) for c in classes.tolist()]

    registry = CollectorRegistry(auto_describe=True)
    requests = Counter(
        "sentiment_http_requests",
        "HTTP requests by path, method and status code",
        ["path", "method", "status"],
        registry=registry,
    )
    latency = Histogram(
        "sentiment_http_request_duration_seconds",
        "HTTP request latency",
        ["path"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    texts_total = Counter(
        "sentiment_texts", "texts received in prediction requests, by status", ["status"], registry=registry
    )
    batch_texts = Histogram(
        "sentiment_batch_texts",
        "texts per model call (micro-batch size)",
        registry=registry,
        buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
    )
    batch_requests = Histogram(
        "sentiment_batch_requests",
        "requests gathered into one model call",
        registry=registry,
        buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    )
    batch_seconds = Histogram(
        "sentiment_batch_seconds",
        "seconds per model call (tokenize + predict)",
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )

    def on_batch(size: int, n_requests: int, seconds: float) -> None:
        batch_texts.observe(size)
        batch_requests.observe(n_requests)
        batch_seconds.observe(seconds)

    batcher = MicroBatcher(clf.predict_proba, max_wait=batch_wait_ms / 1000, max_batch=max_batch, on_batch=on_batch)
    ready = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start(warmup=lambda: clf.predict_proba(WARMUP_TEXTS), on_ready=ready.set)
        try:
            yield
        finally:
            await batcher.stop()  # in-flight requests finished first (uvicorn's graceful shutdown)

    app = FastAPI(
        title="sentiment",
        version=_version(),
        description="Korean comment sentiment. POST texts to /v1/predict; labels and probabilities come "
        "back in input order. " + ("Requests to /v1/ need 'Authorization: Bearer <key>'." if api_key else ""),
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    bearer = HTTPBearer(auto_error=False, description="the key given to the server with --api-key-env")
    security = [Security(bearer)] if api_key else []  # documents the scheme; Guard checks the key

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        dependencies=security,
        responses={
            401: {"description": "missing or wrong API key"},
            413: {"description": "too many texts or too large a body"},
            422: {"description": "malformed JSON, a wrong type, or an invalid threshold"},
        },
    )
    async def predict(body: PredictRequest) -> Response:
        """Label and probabilities for each text, in input order."""
        texts, threshold = body.texts, body.threshold
        if len(texts) > max_texts:
            raise HTTPException(
                413,
                f"{len(texts):,} texts in one request; the limit is {max_texts:,} "
                f"(--max-texts); send them in several requests",
            )
        try:
            check_threshold(threshold, classes, option="threshold")
        except DataError as exc:
            raise HTTPException(422, str(exc)) from None
        statuses = [row_status(text) for text in texts]
        ok = [text for text, status in zip(texts, statuses) if status == STATUS_OK]
        try:
            proba = await batcher.predict(ok) if ok else np.zeros((0, len(keys)), dtype=np.float32)
        except BatcherStopped as exc:
            raise HTTPException(503, str(exc)) from None
        predicted = predicted_classes(proba, classes, threshold, rule).tolist() if len(proba) else []
        rows = iter(zip(predicted, proba.astype(np.float64).tolist()))
        out = [{"label": None, "probabilities": None, "status": status} for status in statuses]
        for row in out:
            if row["status"] == STATUS_OK:
                row["label"], probs = next(rows)
                row["probabilities"] = dict(zip(keys, probs))
        for status in set(statuses):
            texts_total.labels(status).inc(statuses.count(status))
        return JSONResponse({"model": identifier, "predictions": out})

    @app.get("/v1/model", dependencies=security)
    async def model_info() -> dict[str, Any]:
        """Labels, the config that shapes predictions, metrics and package versions of the served bundle."""
        return {
            **summary,
            "limits": {
                "max_texts": max_texts,
                "max_body_bytes": max_body_bytes,
                "batch_wait_ms": batch_wait_ms,
                "max_batch": max_batch,
            },
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive and answering."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "the model is still warming up"}})
    async def readyz() -> JSONResponse:
        """The model is loaded and warmed up: predictions answer without a first-call delay."""
        if ready.is_set():
            return JSONResponse({"status": "ready", "model": identifier})
        problem = batcher.problem()
        return JSONResponse(
            {
                "status": "failed" if problem else "warming up",
                "model": identifier,
                **({"error": problem} if problem else {}),
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this app."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(Guard, api_key=api_key, max_body_bytes=max_body_bytes)
    app.add_middleware(
        RequestMetrics, requests=requests, latency=latency, paths=frozenset(route.path for route in app.routes)
    )
    app.state.classifier = clf
    app.state.model_id = identifier
    app.state.registry = registry
    return app


def _version() -> str:
    from ..versions import __version__

    return __version__


def run_server(
    model: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_texts: int = DEFAULT_MAX_TEXTS,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    max_batch: int = DEFAULT_MAX_BATCH,
    graceful_timeout: float = 30.0,
    access_log: bool = False,
    log_level: str = "info",
    log: Callable[[str], None] = lambda msg: None,
    precision: str = "auto",
) -> None:
    """Bind ``host:port`` (a clear error if taken), load the model and serve until SIGTERM or Ctrl+C.

    On SIGTERM/SIGINT uvicorn stops accepting connections, lets requests in
    flight finish (up to ``graceful_timeout`` seconds), then the batcher is
    drained and this function returns.
    """

    import uvicorn

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise SentimentError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); the port may be in use: "
            f"choose another with --port, or another address with --host"
        ) from None
    try:
        app = create_app(
            model,
            max_texts=max_texts,
            api_key=api_key,
            max_body_bytes=max_body_bytes,
            batch_wait_ms=batch_wait_ms,
            max_batch=max_batch,
            precision=precision,
        )
        bound = sock.getsockname()
        shown = f"[{bound[0]}]" if family == socket.AF_INET6 else bound[0]
        log(
            f"model {app.state.model_id} ({model or 'default (packaged)'}, {app.state.classifier.runtime_}); "
            f"serving on http://{shown}:{bound[1]} (docs: /docs)"
        )
        freeze_startup_objects()
        config = uvicorn.Config(
            app,
            host=host,
            port=bound[1],
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=graceful_timeout,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        run_until_stopped(server, sock)
        if not server.started:
            raise SentimentError("the server did not start; see the log lines above")
    finally:
        sock.close()


def freeze_startup_objects() -> None:
    """Move everything loaded so far (the model, its vocabulary, the libraries' modules) out of the garbage
    collector's view, for the rest of this server process.

    A full collection walks every tracked object: with the model loaded that is about 100,000 objects and 30-60 ms
    on this project's 2-core machine, during which no request is answered. Those objects live as long as the
    process, so scanning them finds nothing; frozen, a full collection only walks what requests allocated
    (``gc.freeze``, as CPython's docs suggest for long-lived servers). Called once, in the process ``sentiment
    serve`` starts, just before uvicorn; ``create_app`` alone (an app embedded elsewhere) leaves the GC as it is.
    """
    gc.collect()
    gc.freeze()


def run_until_stopped(server: Any, sock: socket.socket) -> None:
    """Run the uvicorn ``server`` on ``sock`` until Ctrl+C or SIGTERM; a stop by signal returns normally (uvicorn
    re-raises the signal it stopped for once it has shut down gracefully; here that is the end, not an error)."""

    def stopped(signum: int, frame: Any) -> None:
        """Shut down already: nothing more to do."""

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
