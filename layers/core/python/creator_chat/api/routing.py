"""The HTTP functions' router: API Gateway HTTP API events (payload 2.0) in, results out.

The routes are declared as FastAPI's are (``@app.get(path, response_model=...)`` on functions
whose parameters say what they take: path and query parameters, a JSON body as a pydantic
model, ``Depends`` for what is computed from the request) and this module runs them, in the
Lambda function and behind the local gateway alike. FastAPI itself is imported only to write
the OpenAPI document from the same table (``creator_chat.api.openapi``), on the first request
for ``/openapi.json`` or ``/docs``.

Why not FastAPI through Mangum, as before: importing FastAPI, Starlette and Mangum and
building the app cost the chat function ~250 ms of every cold start (FastAPI builds its
OpenAPI models and a validating field for every parameter and response at import and route
time), more than its whole cold-start budget over ``import boto3`` (issue 19). Powertools'
``APIGatewayHttpResolver`` with validation measured ~145 ms for the same (its own OpenAPI
models), so it does not fit either. What runs here is what the API uses: path matching,
``Depends`` (cached per request, as FastAPI does), integer query parameters with bounds,
a JSON body validated by its pydantic model, responses serialized as FastAPI serializes them,
and the errors of ``common.py``. The order of checks is FastAPI's: body size and media type,
then JSON syntax (``400``), then dependencies (which may refuse: ``401``, ``404``), then the
parameters and the body (``422``).
"""

from __future__ import annotations

import base64
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any, get_args, get_origin, get_type_hints
from urllib.parse import parse_qsl, unquote

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python


# ------------------------------------------------------------------ what routes declare
class Depends:
    """A parameter computed from the request by ``dependency`` (whose own parameters are
    declared the same way), once per request."""

    __slots__ = ("dependency",)

    def __init__(self, dependency: Callable[..., Any]) -> None:
        self.dependency = dependency


class Query:
    """A query parameter's bounds (``Annotated[int, Query(ge=1, le=100)] = 50``)."""

    __slots__ = ("ge", "le")

    def __init__(self, *, ge: int | None = None, le: int | None = None) -> None:
        self.ge = ge
        self.le = le


@dataclass
class Request:
    """What a route sees of its request (header names are lower-case)."""

    app: HttpApp
    method: str
    path: str
    headers: Mapping[str, str]
    query: list[tuple[str, str]]
    body: bytes
    event: dict[str, Any]
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        ctx = self.event.get("requestContext")
        return str(ctx.get("requestId", "")) if isinstance(ctx, dict) else ""

    def query_value(self, name: str) -> str | None:
        """The last value of a repeated parameter, as Starlette (and so FastAPI) reads it."""
        found = None
        for key, value in self.query:
            if key == name:
                found = value
        return found


class Response:
    media_type: str | None = None

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body = self.render(content)
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        if self.media_type is not None and "content-type" not in self.headers:
            text = self.media_type.startswith("text/")
            self.headers["content-type"] = self.media_type + ("; charset=utf-8" if text else "")
        if not (self.status_code < 200 or self.status_code in (204, 304)):
            self.headers.setdefault("content-length", str(len(self.body)))

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        return content if isinstance(content, bytes) else str(content).encode("utf-8")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # as Starlette renders it
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")


class HTMLResponse(Response):
    media_type = "text/html"


class HTTPError(Exception):
    """No route for this path (404) or not for this method (405)."""

    def __init__(self, status: int) -> None:
        super().__init__(HTTPStatus(status).phrase)
        self.status = status
        self.detail = HTTPStatus(status).phrase


class RequestInvalid(Exception):
    """The request's parameters or body do not validate: pydantic's errors, each ``loc``
    starting with where the value was (``body``, ``query``, ``path``), as FastAPI reports."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


# ------------------------------------------------------------------ how a route is called
@dataclass(frozen=True)
class Param:
    """One parameter of a route's function (or of a dependency), and where its value is."""

    name: str
    kind: str  # path | query | body | request | depends
    annotation: Any = None
    required: bool = True
    default: Any = None
    query: Query | None = None
    depends: Plan | None = None


@dataclass
class Plan:
    """How to call a function (an endpoint or a dependency) from a request."""

    call: Callable[..., Any]
    params: list[Param]
    _adapters: dict[str, TypeAdapter[Any]] = field(default_factory=dict)

    def adapter(self, param: Param) -> TypeAdapter[Any]:
        adapter = self._adapters.get(param.name)
        if adapter is None:
            annotation = param.annotation
            if param.query is not None:
                bounds = Field(ge=param.query.ge, le=param.query.le)
                annotation = Annotated[annotation, bounds]
            adapter = self._adapters[param.name] = TypeAdapter(annotation)
        return adapter


QUERY_TYPES = (int, str, float, bool)
_plans: dict[tuple[Callable[..., Any], frozenset[str]], Plan] = {}


def plan(call: Callable[..., Any], path_params: Iterable[str]) -> Plan:
    """Which parameter of ``call`` is what, read from its signature as FastAPI reads it."""
    names = set(path_params)
    hints = get_type_hints(call, include_extras=True)
    params: list[Param] = []
    for p in inspect.signature(call).parameters.values():
        annotation = hints.get(p.name, Any)
        marker: Any = None
        if get_origin(annotation) is Annotated:
            annotation, *extras = get_args(annotation)
            if len(extras) != 1 or not isinstance(extras[0], Depends | Query):
                raise TypeError(f"{call.__name__}({p.name}): only Depends or Query annotate")
            marker = extras[0]
        if isinstance(marker, Depends):
            key = (marker.dependency, frozenset(names))
            sub = _plans.get(key) or plan(marker.dependency, names)
            _plans[key] = sub
            params.append(Param(p.name, "depends", annotation, depends=sub))
        elif annotation is Request:
            params.append(Param(p.name, "request", annotation))
        elif p.name in names:
            params.append(Param(p.name, "path", annotation))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            params.append(Param(p.name, "body", annotation, *_default(p)))
        elif annotation in QUERY_TYPES:
            params.append(Param(p.name, "query", annotation, *_default(p), query=marker))
        else:  # a header, a cookie, a form: not what this router reads
            raise TypeError(f"{call.__name__}({p.name}): {annotation!r} is not a route parameter")
    return Plan(call, params)


def _default(p: inspect.Parameter) -> tuple[bool, Any]:
    """``(required, default)`` of a parameter."""
    if p.default is inspect.Parameter.empty:
        return True, None
    return False, p.default


class _Solver:
    """One request's dependencies and parameters (each dependency called once)."""

    def __init__(self, request: Request, body: Any) -> None:
        self.request = request
        self.body = body
        self.cache: dict[Callable[..., Any], Any] = {}
        self.errors: list[dict[str, Any]] = []

    def arguments(self, how: Plan) -> dict[str, Any]:
        values: dict[str, Any] = {}
        # FastAPI's order: dependencies first (they may refuse), then the parameters
        for p in how.params:
            if p.kind == "depends":
                assert p.depends is not None
                dep = p.depends.call
                if dep not in self.cache:
                    self.cache[dep] = dep(**self.arguments(p.depends))
                values[p.name] = self.cache[dep]
            elif p.kind == "request":
                values[p.name] = self.request
        for p in how.params:
            if p.kind == "path":
                values[p.name] = self.request.path_params[p.name]
            elif p.kind == "query":
                raw = self.request.query_value(p.name)
                if raw is None:
                    if p.required:
                        self.errors.append(_missing(("query", p.name)))
                    else:
                        values[p.name] = p.default
                    continue
                values[p.name] = self._validate(how, p, raw, ("query", p.name))
        for p in how.params:
            if p.kind == "body":
                if self.body is None:
                    if p.required:
                        self.errors.append(_missing(("body",)))
                    else:
                        values[p.name] = p.default
                    continue
                values[p.name] = self._validate(how, p, self.body, ("body",))
        return values

    def _validate(self, how: Plan, p: Param, raw: Any, loc: tuple[str, ...]) -> Any:
        try:
            return how.adapter(p).validate_python(raw)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                self.errors.append({**e, "loc": (*loc, *e["loc"])})
            return None


def _missing(loc: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


# ------------------------------------------------------------------ the route table
@dataclass
class Route:
    method: str
    path: str
    endpoint: Callable[..., Any]
    status_code: int | None = None
    response_model: Any = None
    tags: list[str] = field(default_factory=list)
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)
    openapi_extra: dict[str, Any] | None = None
    include_in_schema: bool = True

    def __post_init__(self) -> None:
        self.param_names = re.findall(r"{([^}]+)}", self.path)
        self.pattern = re.compile(
            "^" + re.sub(r"{([^}]+)}", lambda m: f"(?P<{m.group(1)}>[^/]+)", self.path) + "$"
        )
        self.plan = plan(self.endpoint, self.param_names)
        self.takes_body = any(p.kind == "body" for p in self.all_params())

    @property
    def name(self) -> str:
        return self.endpoint.__name__

    def all_params(self) -> list[Param]:
        out: list[Param] = []

        def walk(how: Plan) -> None:
            for p in how.params:
                out.append(p)
                if p.depends is not None:
                    walk(p.depends)

        walk(self.plan)
        return out


Handler = Callable[["Request", Exception], Response]


class HttpApp:
    """An HTTP function's routes and what answers its errors; called with a Lambda event."""

    def __init__(
        self,
        title: str,
        version: str,
        description: str = "",
        responses: dict[int | str, dict[str, Any]] | None = None,
    ) -> None:
        self.title = title
        self.version = version
        self.description = description
        self.responses = responses or {}
        self.routes: list[Route] = []
        self.container_factory: Callable[[], Any] = lambda: None
        self.exception_handlers: list[tuple[type[BaseException], Handler]] = []
        self.edge: Callable[[Request, Route | None], Response | None] | None = None
        self._openapi: dict[str, Any] | None = None
        self.openapi_hook: Callable[[dict[str, Any]], None] | None = None
        self.get("/openapi.json", include_in_schema=False)(self.openapi_json)
        self.get("/docs", include_in_schema=False)(self.swagger_ui)

    # -- declaring
    def route(
        self, method: str, path: str, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(Route(method, path, endpoint, **meta))
            return endpoint

        return register

    def get(self, path: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("GET", path, **meta)

    def post(self, path: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("POST", path, **meta)

    def put(self, path: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PUT", path, **meta)

    def patch(self, path: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PATCH", path, **meta)

    def delete(self, path: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("DELETE", path, **meta)

    def exception_handler(self, kind: type[BaseException], handler: Handler) -> None:
        """``handler`` answers ``kind`` (the first registered class that matches wins)."""
        self.exception_handlers.append((kind, handler))

    # -- documenting
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, written by FastAPI from this table (built once)."""
        if self._openapi is None:
            from creator_chat.api.openapi import document  # FastAPI: only when asked

            doc = document(self)
            if self.openapi_hook is not None:
                self.openapi_hook(doc)
            self._openapi = doc
        return self._openapi

    def openapi_json(self) -> JSONResponse:
        return JSONResponse(self.openapi())

    def swagger_ui(self) -> HTMLResponse:
        from creator_chat.api.openapi import swagger_page

        return HTMLResponse(swagger_page(self.title))

    # -- serving
    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return lambda_result(self.handle(request_of(self, event)))

    def match(self, request: Request) -> Route:
        method = "GET" if request.method == "HEAD" else request.method
        allowed = False
        for route in self.routes:
            found = route.pattern.match(request.path)
            if found is None:
                continue
            if route.method == method:
                request.path_params = found.groupdict()
                return route
            allowed = True
        raise HTTPError(405 if allowed else 404)

    def handle(self, request: Request) -> Response:
        try:
            response = self._handle(request)
        except Exception as exc:  # every error answers the API's JSON error body
            response = self.error_response(request, exc)
        if request.method == "HEAD":
            response.body = b""
        return response

    def _handle(self, request: Request) -> Response:
        route: Route | None = None
        unmatched: HTTPError | None = None
        try:
            route = self.match(request)
        except HTTPError as err:
            unmatched = err  # the edge checks come first, as a middleware's would
        if self.edge is not None:
            refused = self.edge(request, route)
            if refused is not None:
                return refused
        if route is None:
            assert unmatched is not None
            raise unmatched
        body: Any = None
        if route.takes_body and request.body:
            try:
                body = json.loads(request.body)
            except (ValueError, RecursionError) as err:  # RecursionError: nested too deep
                raise RequestInvalid(
                    [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
                ) from err
        solver = _Solver(request, body)
        arguments = solver.arguments(route.plan)
        if solver.errors:
            raise RequestInvalid(solver.errors)
        result = route.endpoint(**arguments)
        if isinstance(result, Response):
            return result
        return JSONResponse(to_jsonable_python(result), status_code=route.status_code or 200)

    def error_response(self, request: Request, exc: Exception) -> Response:
        for kind, handler in self.exception_handlers:
            if isinstance(exc, kind):
                return handler(request, exc)
        raise exc


# ------------------------------------------------------------------ API Gateway payload 2.0
def request_of(app: HttpApp, event: dict[str, Any]) -> Request:
    http = event.get("requestContext", {}).get("http", {})
    body = event.get("body") or b""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    elif isinstance(body, str):
        body = body.encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    return Request(
        app,
        method=str(http.get("method", "GET")).upper(),
        path=unquote(http.get("path") or event.get("rawPath") or "/"),
        headers=headers,
        query=parse_qsl(event.get("rawQueryString", ""), keep_blank_values=True),
        body=body,
        event=event,
    )


_TEXT = ("text/", "application/json", "application/javascript", "application/xml")


def lambda_result(response: Response) -> dict[str, Any]:
    media = response.headers.get("content-type", "")
    if not response.body or any(media.startswith(t) or media.endswith("+json") for t in _TEXT):
        body, encoded = response.body.decode("utf-8"), False
    else:
        body, encoded = base64.b64encode(response.body).decode("ascii"), True
    return {
        "statusCode": response.status_code,
        "headers": response.headers,
        "body": body,
        "isBase64Encoded": encoded,
    }
