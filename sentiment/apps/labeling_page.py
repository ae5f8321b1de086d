"""The local labeling page of ``sentiment label``: a FastAPI app around a :class:`~sentiment.apps.labeling.LabelStore`.

``GET /`` is the page (``labeling_page.html``: loads nothing else; a subset of the NanumGothic font the package
depends on is inlined, so Korean renders without a Korean system font);
``GET /api/state`` the progress, the comment waiting and the running audit accuracy; ``POST /api/decide``
``{"row": R, "decision": "positive"|"negative"|"skip"}`` and ``POST /api/undo`` change LABELS and answer with
the new state only after the file is safely on disk. A decision for a comment that is no longer waiting (a
second tab, a key pressed twice) is refused with 409 and the current state, so nothing is recorded twice.

The page only listens on 127.0.0.1. Requests whose ``Host`` is not this address (DNS rebinding) and state
changes that are not JSON (a form another site posts cross-origin) are refused with 403 / 415.
FastAPI and uvicorn are only imported here (``pip install "sentiment[serve]"``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict

from ..errors import SentimentError
from .labeling import DecisionConflict, LabelStore

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    row: int
    decision: Literal["positive", "negative", "skip"]


def page_html() -> str:
    return (resources.files("sentiment.apps") / "labeling_page.html").read_text(encoding="utf-8")


def create_labeling_app(store: LabelStore, *, title: str = "sentiment label", port: int | None = None) -> FastAPI:
    """The app; ``port`` (when known) restricts the accepted ``Host`` headers to this page's own address."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.Lock()
    html = page_html().replace("__TITLE__", _escape_html(title))
    faces, families = _font_faces(store, html, title)
    html = html.replace("/*__FONT__*/", faces).replace("/*__FAMILIES__*/", families)
    allowed_hosts = None if port is None else {f"{HOST}:{port}", f"localhost:{port}"}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = request.headers.get("host", "")
        if allowed_hosts is not None and host not in allowed_hosts:
            return JSONResponse(
                {"error": f"Host {host!r} is not this labeling page; open http://{HOST}:{port}/"}, status_code=403
            )
        if request.method == "POST" and not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse(
                {"error": "send the decision as JSON (Content-Type: application/json)"}, status_code=415
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError) -> JSONResponse:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}" for e in exc.errors()[:3]
        )
        return JSONResponse(
            {
                "error": f'invalid request ({fields}); expected {{"row": 12, "decision": '
                f'"positive" | "negative" | "skip"}}'
            },
            status_code=422,
        )

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    # The handlers run on the event loop itself (no thread hop): one person labels, a write takes milliseconds,
    # and nothing else waits. The lock keeps them one at a time should a handler ever move to a thread.
    @app.get("/api/state")
    async def state() -> dict[str, Any]:
        with lock:
            return store.state()

    @app.post("/api/decide")
    async def decide(body: Decision):
        with lock:
            try:
                return store.decide(body.row, body.decision)
            except DecisionConflict as exc:
                return JSONResponse({"error": str(exc), "state": store.state()}, status_code=409)

    @app.post("/api/undo")
    async def undo():
        with lock:
            try:
                return store.undo()
            except DecisionConflict as exc:
                return JSONResponse({"error": str(exc), "state": store.state()}, status_code=409)

    return app


def _font_faces(store: LabelStore, html: str, title: str) -> tuple[str, str]:
    """Inline ``@font-face`` rules (NanumGothic, then DejaVu Sans, from the package's dependencies), cut down to
    the characters of the comments and of the page, and their family names for the CSS font list (first: a
    local font first would let the browser draw Hangul with its own fallback before the inline fonts load), so
    Korean renders the same on every machine, without the network. Empty without the fonts."""
    from ..analysis.report_html import embedded_fonts

    characters = "".join(store.texts) + store.positive + store.negative + title + html
    faces, families, _ = embedded_fonts(characters)
    return faces, "".join(f'"{family}", ' for family in families)


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def bind(port: int) -> socket.socket:
    """Listen on 127.0.0.1:``port`` now (before the slow selection), or a clear error naming the port."""
    try:
        return socket.create_server((HOST, port), family=socket.AF_INET, backlog=64)
    except OSError as exc:
        raise SentimentError(
            f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); the port may be in use "
            f"(another labeling page?): choose another with --port, e.g. --port {port + 1}, or "
            f"--port 0 for any free port"
        ) from None


def serve(
    store: LabelStore,
    sock: socket.socket,
    *,
    title: str = "sentiment label",
    log: Callable[[str], None] = lambda msg: None,
    log_level: str = "warning",
) -> None:
    """Serve the page on ``sock`` until Ctrl+C or SIGTERM (every decision is already on disk)."""
    import uvicorn

    from .serving import run_until_stopped

    port = sock.getsockname()[1]
    app = create_labeling_app(store, title=title, port=port)
    log(
        f"labeling page: http://{HOST}:{port}/  (keys: 1 or → positive, 0 or ← negative, s skip, z or Backspace "
        f"undo; Ctrl+C stops, every decision is already saved in {store.path})"
    )
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=5
    )
    try:
        run_until_stopped(uvicorn.Server(config), sock)
    finally:
        sock.close()
    counts = store.state()
    log(f"stopped; {counts['decided']:,} of {counts['total']:,} comments decided in {store.path}")
