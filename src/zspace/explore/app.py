"""The explorer's HTTP server: a Starlette application over the runs it was started with.

Every request carries the token (query ``token=`` or header ``Authorization:
token ...``), as Jupyter's do; without it, 403. Runs are addressed by the
names the command line gave them; no request names a file. Bad input is a 400
with ``{"error": ..., "field": ...}``, never a traceback; bodies above
:data:`MAX_BODY_BYTES` are 413. Model work runs in Starlette's thread pool
(the session's lock serialises it), so the event loop keeps serving.

Endpoints (JSON; arrays of many numbers are base64 of little-endian float32,
images base64 PNG of :func:`zspace.core.images.to_uint8` of the decode):

``GET  /api/runs``                     the runs: name, z_dim, image shape, split, points, views, samplers
``GET  /api/map?run&view``             every shown code's position in the view (and its row: a t-SNE map
                                       shows a subsample), labels, radius, void distance
``POST /api/decode``    {run, z}         {images}: z (n, z_dim) decoded, n <= MAX_POINTS
``POST /api/click``     {run, view, x, y, fill}   the point z of a click (on a t-SNE map: the nearest code), its
                                       image, neighbours, void distance, realism (null without a feature net)
``GET  /api/code?run&row``             a code: the real image, its reconstruction, its z
``GET  /api/direction?run&direction``  a unit vector: ``axis:A``, ``pca:K`` or ``factor:NAME``
``POST /api/sample``    {run, sampler, n, seed, view}   sampled points, their positions and void distances
``POST /api/interpolate`` {run, a, b, steps, along}  the straight or the data path between two points: images,
                                       points, void profile
"""

from __future__ import annotations

import base64
import io as bytes_io
import json
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from zspace.core.errors import ZspaceError
from zspace.core.images import to_uint8
from zspace.explore.runs import ExploreRun
from zspace.explore.space import View

#: most points one request may decode or sample positions for
MAX_POINTS = 256
#: most points one /api/sample may draw
MAX_SAMPLES = 20000
#: largest request body accepted (bytes)
MAX_BODY_BYTES = 1 << 20
#: the page and its script
PAGES = Path(__file__).parent / "pages"


class BadRequest(Exception):
    """A 400: ``field`` of the request is wrong, ``message`` says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def png_base64(image: np.ndarray) -> str:
    """Base64 PNG of one float image (H, W, C) in [0, 1], exactly its :func:`to_uint8` pixels."""
    pixels = to_uint8(image)
    buffer = bytes_io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def float32_base64(values: np.ndarray) -> str:
    """Base64 of the little-endian float32 bytes of ``values`` (the page reads them into a Float32Array)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


# -- reading requests ---------------------------------------------------------------------------------------
def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(field, f"{field} must be a number, not {type(value).__name__}")
    if not np.isfinite(value):
        raise BadRequest(field, f"{field} must be finite, not {value}")
    return float(value)


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise BadRequest(field, f"{field} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(field, f"{field} must be from {low} to {high}, not {value}")
    return value


def _points(value: Any, field: str, z_dim: int, limit: int = MAX_POINTS) -> np.ndarray:
    """A list of points (each a list of z_dim finite numbers) as float32 (n, z_dim)."""
    if not isinstance(value, list) or not value:
        raise BadRequest(field, f"{field} must be a non-empty list of points (lists of {z_dim} numbers)")
    if len(value) > limit:
        raise BadRequest(field, f"{field} has {len(value)} points; at most {limit} per request")
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != z_dim:
            raise BadRequest(field, f"{field}[{i}] must be a list of {z_dim} numbers (z_dim of this run)")
        rows.append([_number(v, f"{field}[{i}]") for v in row])
    points = np.asarray(rows, dtype=np.float64)
    if np.abs(points).max() > 1e6:
        raise BadRequest(field, f"{field} holds values beyond 1e6 in size")
    return points.astype(np.float32)


#: an oversized body is read up to this size before the 413 (so the client sees the answer, not a reset)
DRAIN_BYTES = 16 << 20


async def _body(request: Request) -> dict[str, Any]:
    raw, seen = b"", 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen <= MAX_BODY_BYTES:
            raw += chunk
        elif seen > DRAIN_BYTES:
            break
    if seen > MAX_BODY_BYTES:
        raise BadRequest("body", f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise BadRequest("body", "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body", "the request body must be a JSON object")
    return body


def _view(run: ExploreRun, name: Any) -> View:
    """The view ``name`` of ``run`` (default ``pca:1,2``); a bad name is a 400 naming the field ``view``."""
    try:
        return run.view(name or "pca:1,2")
    except ZspaceError as exc:
        raise BadRequest("view", str(exc)) from None


class Explorer:
    """The state behind the server: the runs by name, and the token."""

    def __init__(self, runs: dict[str, ExploreRun], token: str | None = None) -> None:
        self.runs = runs
        self.token = token or secrets.token_urlsafe(24)

    def run(self, name: Any) -> ExploreRun:
        if not isinstance(name, str) or name not in self.runs:
            raise BadRequest("run", f"run {name!r} is not served here; one of: {', '.join(self.runs)}")
        return self.runs[name]

    # -- handlers (thread pool) --------------------------------------------------------------------------------
    def runs_listing(self) -> dict[str, Any]:
        return {"runs": [r.describe() for r in self.runs.values()]}

    def map(self, query: dict[str, Any]) -> dict[str, Any]:
        run = self.run(query.get("run"))
        view = _view(run, query.get("view"))
        positions = run.space.coordinates(view)
        rows = run.space.rows(view)
        shown = slice(None) if rows is None else rows
        return {"run": run.name, "view": view.name, "plane": view.is_plane, "n": len(positions),
                "x": float32_base64(positions[:, 0]), "y": float32_base64(positions[:, 1]),
                "rows": None if rows is None else float32_base64(rows.astype(np.float32)),
                "labels": None if run.labels is None else float32_base64(run.labels[shown].astype(np.float32)),
                "radius": float32_base64(run.radius[shown]), "void": float32_base64(run.void[shown]),
                "factors": {} if run.factors is None else
                {name: float32_base64(run.factors[shown, k]) for k, name in enumerate(run.factor_names)}}

    def decode(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self.run(body.get("run"))
        z = _points(body.get("z"), "z", run.space.z_dim)
        return {"images": [png_base64(image) for image in run.decode(z)]}

    def click(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self.run(body.get("run"))
        view = _view(run, body.get("view"))
        x, y = _number(body.get("x"), "x"), _number(body.get("y"), "y")
        fill = body.get("fill", "mean")
        if fill not in ("mean", "nearest", "zero"):
            raise BadRequest("fill", f"fill {fill!r} is unknown; use mean, nearest or zero")
        z = run.space.click(view, (x, y), fill).astype(np.float32)
        rows, distances = run.space.nearest_codes(z, k=6)
        image = run.decode(z[None])
        realism = run.realism_of(image)
        return {"z": z.tolist(), "image": png_base64(image[0]),
                "row": None if view.is_plane else run.space.nearest_in_view(view, (x, y)),
                "note": None if view.is_plane else "t-SNE has no inverse: the click picked the nearest code",
                "realism": None if realism is None else realism[0],
                "void_distance": float(run.space.void_distance(z[None])[0]),
                "neighbours": [{"row": int(r), "distance": float(d), "image": png_base64(run.real_image(int(r)))}
                               for r, d in zip(rows, distances)]}

    def code(self, query: dict[str, Any]) -> dict[str, Any]:
        run = self.run(query.get("run"))
        row = _integer(query.get("row"), "row", 0, len(run.space.codes) - 1)
        return {"row": row, "z": run.space.codes[row].tolist(), "image": png_base64(run.real_image(row)),
                "reconstruction": png_base64(run.decode(run.space.codes[row][None])[0]),
                "label": run.label_of(row)}

    def direction(self, query: dict[str, Any]) -> dict[str, Any]:
        run = self.run(query.get("run"))
        spec = str(query.get("direction", ""))
        try:
            return {"direction": spec, "vector": run.direction(spec).tolist()}
        except ZspaceError as exc:
            raise BadRequest("direction", str(exc)) from None

    def sample(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self.run(body.get("run"))
        n = _integer(body.get("n", 500), "n", 1, MAX_SAMPLES)
        seed = _integer(body.get("seed", 0), "seed", 0, 2 ** 31 - 1)
        view = _view(run, body.get("view"))
        sampler = body.get("sampler")
        if not isinstance(sampler, str) or not sampler:
            raise BadRequest("sampler", "sampler must be a sampler spec (normal, uniform:2, gmm:10, ...)")
        try:
            z = run.sample(sampler, n, seed)
        except ZspaceError as exc:
            raise BadRequest("sampler", str(exc)) from None
        try:
            positions = run.space.coordinates(view, z)
        except ZspaceError as exc:
            raise BadRequest("view", str(exc)) from None
        return {"sampler": sampler, "n": n, "x": float32_base64(positions[:, 0]),
                "y": float32_base64(positions[:, 1]), "z": float32_base64(z),
                "void": float32_base64(run.space.void_distance(z))}

    def interpolate(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self.run(body.get("run"))
        ends = _points([body.get("a"), body.get("b")], "a, b", run.space.z_dim, limit=2)
        steps = _integer(body.get("steps", 9), "steps", 2, 64)
        along = body.get("along", "straight")
        if along not in ("straight", "data"):
            raise BadRequest("along", f"along {along!r} is unknown; use straight or data")
        path = run.path(ends[0], ends[1], steps, along)
        return {"along": along, "t": np.linspace(0.0, 1.0, steps).tolist(), "z": path.tolist(),
                "images": [png_base64(image) for image in run.decode(path)],
                "void_distance": run.space.void_distance(path).tolist()}


def create_app(explorer: Explorer) -> Starlette:
    """The Starlette application serving ``explorer``'s runs (see the module docstring)."""

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            given = request.query_params.get("token") or \
                request.headers.get("authorization", "").removeprefix("token ").strip()
            if not secrets.compare_digest(given.encode(), explorer.token.encode()):
                return JSONResponse({"error": "a valid token is needed (?token=... or Authorization: token ...)",
                                     "field": "token"}, status_code=403)
            try:
                return await handler(request)
            except BadRequest as exc:
                status = {"body": 413 if "bytes" in str(exc) else 400, "run": 404}.get(exc.field, 400)
                return JSONResponse({"error": str(exc), "field": exc.field}, status_code=status)
            except ZspaceError as exc:
                return JSONResponse({"error": str(exc), "field": None}, status_code=400)
        return endpoint

    def json_get(method: Callable[[dict[str, Any]], dict[str, Any]]):
        async def handler(request: Request) -> Response:
            return JSONResponse(await run_in_threadpool(method, dict(request.query_params)))
        return guarded(handler)

    def json_post(method: Callable[[dict[str, Any]], dict[str, Any]]):
        async def handler(request: Request) -> Response:
            body = await _body(request)
            return JSONResponse(await run_in_threadpool(method, body))
        return guarded(handler)

    async def runs(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(explorer.runs_listing))

    async def index(request: Request) -> Response:  # the token is URL-safe base64: nothing to escape
        return HTMLResponse((PAGES / "index.html").read_text(encoding="utf-8").replace("__TOKEN__", explorer.token))

    async def script(request: Request) -> Response:
        return FileResponse(PAGES / "explore.js", media_type="text/javascript")

    async def plotly_js(request: Request) -> Response:
        from plotly.offline import get_plotlyjs

        return Response(get_plotlyjs(), media_type="text/javascript")

    return Starlette(routes=[
        Route("/", guarded(index)),
        Route("/static/explore.js", guarded(script)),
        Route("/static/plotly.min.js", guarded(plotly_js)),
        Route("/api/runs", guarded(runs)),
        Route("/api/map", json_get(explorer.map)),
        Route("/api/code", json_get(explorer.code)),
        Route("/api/direction", json_get(explorer.direction)),
        Route("/api/decode", json_post(explorer.decode), methods=["POST"]),
        Route("/api/click", json_post(explorer.click), methods=["POST"]),
        Route("/api/sample", json_post(explorer.sample), methods=["POST"]),
        Route("/api/interpolate", json_post(explorer.interpolate), methods=["POST"]),
    ])


__all__ = ["Explorer", "BadRequest", "create_app", "png_base64", "float32_base64", "MAX_POINTS", "MAX_BODY_BYTES"]
