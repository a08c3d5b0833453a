"""The studio's web application (Starlette): the page, and a small JSON API behind it.

    GET  /                       the page (static/index.html; its JS and CSS under /static)
    GET  /api/models             the models the page may choose
    POST /api/primers?name=F     an uploaded .mid/.musicxml/.abc (the raw bytes) -> its id
    POST /api/generate           the form's settings (JSON) -> the new tune
    GET  /api/tunes              the tunes written since the studio started
    GET  /api/tunes/ID           one of them
    GET  /api/tunes/ID/FORMAT    its .mid, .musicxml, .png, .pdf, .wav or .svg

Every refusal is JSON `{"error": sentence, "field": control or null}` with a 4xx status; an
unexpected failure is a 500 with a sentence, never a traceback. Bodies are capped
(`MAX_UPLOAD_BYTES`, `MAX_FORM_BYTES`), and at most `max_busy` tunes are written at once (a
busy studio answers 429). Sampling and engraving run in worker threads, so the page stays
responsive.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from melodyrnn.errors import MelodyRNNError
from melodyrnn.studio.generation import Studio
from melodyrnn.studio.request import FieldError, parse_request
from melodyrnn.studio.tunes import MEDIA_TYPES, NotFound

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 1_000_000
MAX_FORM_BYTES = 64_000
MAX_BUSY = 2


class Refusal(Exception):
    """A refused request: status, sentence, and the control it concerns."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def create_app(studio: Studio, max_busy: int = MAX_BUSY,
               max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Starlette:
    """The application serving `studio`."""
    busy = [0]  # tunes being written now; read and changed on the event loop only

    async def models(request: Request) -> Response:
        return JSONResponse({"models": studio.describe_models(),
                             "synth": studio.synth_problem and
                             f"the plain built-in synth plays ({studio.synth_problem})"})

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name", "")
        data = await _body(request, max_upload_bytes, "primer_file",
                           f"the file is larger than {max_upload_bytes / 1e6:g} MB; the "
                           "studio takes a shorter opening")
        upload_id, _ = _field(lambda: studio.store.add_upload(name, data), "primer_file")
        return JSONResponse({"id": upload_id, "name": Path(name).name})

    async def generate(request: Request) -> Response:
        body = await _body(request, MAX_FORM_BYTES, None,
                           f"the settings are larger than {MAX_FORM_BYTES // 1000} KB")
        try:
            form = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise Refusal(400, "the request is not JSON; send the settings as a JSON object") \
                from None
        settings = parse_request(form)
        if busy[0] >= max_busy:
            raise Refusal(429, f"the studio is writing {busy[0]} tunes already; try again in "
                               "a moment")
        busy[0] += 1
        try:
            tune = await run_in_threadpool(studio.generate, settings)
        finally:
            busy[0] -= 1
        return JSONResponse(tune.summary())

    async def tunes(request: Request) -> Response:
        return JSONResponse({"tunes": [t.summary() for t in reversed(studio.store.all())]})

    async def tune(request: Request) -> Response:
        return JSONResponse(studio.store.get(request.path_params["tune_id"]).summary())

    async def tune_file(request: Request) -> Response:
        tune_id, name = request.path_params["tune_id"], request.path_params["name"]
        found = studio.store.get(tune_id)
        path = await run_in_threadpool(studio.store.file, tune_id, name, studio.synth)
        download = request.query_params.get("download") is not None
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix],
                            filename=f"melody-{found.seed}{path.suffix}" if download else None,
                            content_disposition_type="attachment")

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    routes = [
        Route("/", page), Route("/api/models", models),
        Route("/api/primers", upload, methods=["POST"]),
        Route("/api/generate", generate, methods=["POST"]),
        Route("/api/tunes", tunes), Route("/api/tunes/{tune_id}", tune),
        Route("/api/tunes/{tune_id}/{name}", tune_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers: dict[Any, Any] = {Refusal: _refused, FieldError: _field_error,
                                NotFound: _not_found, MelodyRNNError: _bad_value,
                                HTTPException: _http_error, Exception: _failed}
    return Starlette(routes=routes, exception_handlers=handlers)


async def _body(request: Request, limit: int, field: str | None, too_big: str) -> bytes:
    """The request's body, refused (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refusal(413, too_big, field)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, too_big, field)
        chunks.append(chunk)
    return b"".join(chunks)


def _field(call: Any, field: str) -> Any:
    try:
        return call()
    except FieldError:
        raise
    except MelodyRNNError as exc:
        raise FieldError(field, str(exc)) from None


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return _error(exc.status, str(exc), exc.field)


async def _field_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FieldError)
    return _error(400, str(exc), exc.field)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(404, str(exc))


async def _bad_value(request: Request, exc: Exception) -> Response:
    return _error(400, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(404, f"no page {request.url.path[:80]} in the studio; open / instead")
    if exc.status_code == 405:
        return _error(405, f"{request.method} is not how {request.url.path[:80]} is used")
    return _error(exc.status_code, str(exc.detail))


async def _failed(request: Request, exc: Exception) -> Response:
    print(f"melodyrnn studio: {request.url.path} failed: {type(exc).__name__}: {exc}",
          file=sys.stderr)
    return _error(500, f"the studio failed on this request ({type(exc).__name__}); the "
                       "terminal running `melodyrnn studio` says more")
