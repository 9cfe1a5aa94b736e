"""A local API Gateway (HTTP API, payload format 2.0) in front of the real Lambda handlers.

For each HTTP request: match a declared route as API Gateway does (most specific wins),
run the authorizer handler for authorized routes (missing token → 401, deny → 403, with
API Gateway's own bodies), run the route's handler with the authorizer's context, and turn
its response back into HTTP. Handlers run on worker threads, as concurrent Lambda
invocations would.

Beyond API Gateway: ``HEAD`` is answered for every ``GET`` route and file (monitors and link
checkers use it) by running the ``GET`` and sending its status and headers without the body
(API Gateway itself routes ``HEAD`` only to a ``HEAD`` or ``ANY`` route), and each request
gets one access line (:mod:`creator_chat.local.logs`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from creator_chat.local.logs import log_request
from creator_chat.local.websockets import LocalConnections, WebSocketEndpoint
from creator_chat.resources import Route, WebSocketRoute

Handler = Callable[[dict[str, Any], Any], Any]
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request payload limit
ACCOUNT_ID = "000000000000"
API_ID = "local"


@dataclass
class LambdaContext:
    """The parts of Lambda's context object handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class LocalFunction:
    name: str
    handler: Handler
    timeout_s: int = 30
    memory_mb: int = 1024

    def invoke(self, event: dict[str, Any]) -> Any:
        ctx = LambdaContext(self.name, self.memory_mb, self.timeout_s, str(uuid.uuid4()))
        return self.handler(event, ctx)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """API Gateway HTTP API route selection: the most specific matching route wins."""
    best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
    parts = _segments(path)
    for route in routes:
        if route.method not in ("ANY", method):
            continue
        params: dict[str, str] = {}
        tmpl = _segments(route.path)
        literal = 0
        greedy = False
        ok = True
        for i, seg in enumerate(tmpl):
            if seg.endswith("+}"):
                rest = parts[i:]
                if not rest:
                    ok = False
                    break
                params[seg[1:-2]] = "/".join(rest)
                greedy = True
                break
            if i >= len(parts):
                ok = False
                break
            if seg.startswith("{"):
                params[seg[1:-1]] = parts[i]
            elif seg == parts[i]:
                literal += 1
            else:
                ok = False
                break
        if not ok or (not greedy and len(tmpl) != len(parts)):
            continue
        score = (0 if greedy else 1, literal, 1 if route.method != "ANY" else 0)
        if best is None or score > best[0]:
            best = (score, route, params)
    return (best[1], best[2]) if best else None


def build_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route: Route,
    path_params: Mapping[str, str],
    source_ip: str,
    request_id: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event, as the service builds it."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    qs: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        qs[k] = f"{qs[k]},{v}" if k in qs else v
    content_type = joined.get("content-type", "")
    is_text = (
        (not body)
        or content_type.startswith("text/")
        or "json" in content_type
        or "x-www-form-urlencoded" in content_type
        or content_type == ""
    )
    text_body: str | None = None
    if body and is_text:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            is_text = False
    now = datetime.now(UTC)
    route_key = f"{route.method} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": joined.get("host", "localhost"),
            "domainPrefix": joined.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if qs:
        event["queryStringParameters"] = qs
    if path_params:
        event["pathParameters"] = dict(path_params)
    if body:
        event["body"] = text_body if is_text else base64.b64encode(body).decode("ascii")
    return event


def authorizer_event(event: dict[str, Any], identity_source: str | None) -> dict[str, Any]:
    """The REQUEST authorizer event (payload 2.0) API Gateway sends before the route."""
    auth = {k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")}
    auth["type"] = "REQUEST"
    auth["routeArn"] = (
        f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/$default/"
        f"{event['requestContext']['http']['method']}{event['rawPath']}"
    )
    auth["identitySource"] = [identity_source] if identity_source else []
    return auth


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # for the access line: the route that answered (a template, a file's path, a local
    # route's prefix) and the request id (the API's ``request_id``)
    route: str = ""
    request_id: str = ""


def _gateway_error(status: int, message: str) -> GatewayResponse:
    body = json.dumps({"message": message}).encode()
    return GatewayResponse(status, [("content-type", "application/json")], body)


def to_http(result: Any) -> GatewayResponse:
    """Payload 2.0 response → HTTP, including API Gateway's inference for bare results."""
    if not isinstance(result, dict) or "statusCode" not in result:
        body = json.dumps(result).encode()
        return GatewayResponse(200, [("content-type", "application/json")], body)
    headers = [(k.lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((k.lower(), str(v)) for v in values)
    headers.extend(("set-cookie", c) for c in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    return GatewayResponse(int(result["statusCode"]), headers, body)


@dataclass(frozen=True)
class LocalRequest:
    """What a local-only route sees of its request (header names are lower-case)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    source_ip: str


# A route only the local gateway serves (never deployed, not in the declaration).
LocalRoute = Callable[[LocalRequest], GatewayResponse]
# ``static(path, query)``: a file for a GET no declared route matches, as ``(body,
# content_type)`` or as a whole response (to set headers); ``None`` → 404.
StaticHook = Callable[[str, str], tuple[bytes, str] | GatewayResponse | None]


class LocalGateway:
    """An ASGI app: HTTP → authorizer → route handler → HTTP.

    Beyond API Gateway, and only for requests no declared route matches: ``static`` answers
    GETs (the web client), ``local_routes`` maps ``(method, path)`` to local-only handlers
    (e.g. the dev sign-in, or ``"/_local/uploads/*"`` for every path below a prefix); declared
    routes always win, so neither can shadow the API.
    """

    def __init__(
        self,
        routes: list[Route],
        functions: Mapping[str, LocalFunction],
        authorizer: LocalFunction,
        *,
        max_concurrency: int = 64,
        static: StaticHook | None = None,
        local_routes: Mapping[tuple[str, str], LocalRoute] | None = None,
        websocket_routes: list[WebSocketRoute] | None = None,
        websocket_path: str = "/v1/stream",
    ) -> None:
        self._routes = routes
        self._functions = functions
        self._authorizer = authorizer
        self._static = static
        self._local_routes = dict(local_routes or {})
        # (method, path prefix, route) of the local routes that can refuse from headers alone
        self._prechecked: list[tuple[str, str, Any]] = [
            (m, pattern, route)
            for (m, pattern), route in self._local_routes.items()
            if callable(getattr(route, "precheck", None))
        ]
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lambda")
        # the WebSocket API (streamed answers) at one path; its handlers post to the
        # connections through ``connections`` (the container's ``connection_sender``)
        self.connections = LocalConnections()
        self._websocket = (
            WebSocketEndpoint(websocket_routes, functions, authorizer, self._pool, self.connections)
            if websocket_routes
            else None
        )
        self.websocket_path = websocket_path

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _precheck(self, scope: dict[str, Any]) -> GatewayResponse | None:
        """A local route with a ``precheck`` (an upload form) may refuse a request from its
        line and headers alone, before the body is read: the gateway then drops the body as
        it arrives (answering only once it is read, so the client sees the refusal)."""
        if not self._prechecked:
            return None
        method, path = scope["method"], scope["path"]
        route = next(
            (
                r
                for m, pattern, r in self._prechecked
                if m == method
                and (path == pattern or (pattern.endswith("/*") and path.startswith(pattern[:-1])))
            ),
            None,
        )
        if route is None or match_route(self._routes, method, path) is not None:
            return None
        request = LocalRequest(
            method,
            path,
            scope.get("query_string", b"").decode("latin-1"),
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            b"",
            (scope.get("client") or ("127.0.0.1", 0))[0],
        )
        try:
            refused: GatewayResponse | None = route.precheck(request)
        except Exception:
            return _gateway_error(500, "Internal Server Error")
        return refused

    def _local_prefix_route(self, method: str, path: str) -> LocalRoute | None:
        """A local route declared as ``(method, "/prefix/*")`` serves every path below it."""
        for (m, pattern), route in self._local_routes.items():
            if m == method and pattern.endswith("/*") and path.startswith(pattern[:-1]):
                return route
        return None

    def _local_prefix(self, method: str, path: str) -> str:
        for m, pattern in self._local_routes:
            if m == method and pattern.endswith("/*") and path.startswith(pattern[:-1]):
                return pattern
        return path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            if self._websocket is not None and scope["path"] == self.websocket_path:
                await self._websocket(scope, receive, send)
            else:
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})  # → 403 handshake
                log_request("GET", _bounded(scope["path"]), "-", 403, time.perf_counter(), "-")
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method = scope["method"]
        # HEAD runs the GET (a GET route, a file) and sends all but the body
        head = method == "HEAD"
        early = self._precheck(scope)
        chunks: list[bytes] = []
        size = 0
        too_large = False
        while True:
            message = await receive()
            piece = message.get("body", b"")
            size += len(piece)
            if size > MAX_PAYLOAD_BYTES:
                too_large = True
            elif piece and early is None:
                chunks.append(piece)
            if not message.get("more_body"):
                break
        if early is not None:
            response = early  # refused from its headers: the body was read and dropped
            response.route = self._local_prefix(method, scope["path"])
        elif too_large:
            response = _gateway_error(413, "Request Entity Too Large")
        else:
            response = await self.dispatch(
                method="GET" if head else method,
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=b"".join(chunks),
                source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            )
        headers = response.headers
        if head and not any(k == "content-length" for k, _ in headers):
            headers = [*headers, ("content-length", str(len(response.body)))]
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else response.body})
        route = response.route or "-"
        log_request(
            method,
            # a local prefix route's paths carry keys: the prefix stands for them
            route if route.endswith("/*") else _bounded(scope["path"]),
            route,
            response.status,
            started,
            response.request_id or str(uuid.uuid4()),
        )

    async def dispatch(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> GatewayResponse:
        request_id = str(uuid.uuid4())
        matched = match_route(self._routes, method, path)
        if matched is None:
            response = self._unrouted(method, path, query, headers, body, source_ip)
            response.request_id = response.request_id or request_id
            return response
        route, params = matched
        event = build_event(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            route=route,
            path_params=params,
            source_ip=source_ip,
            request_id=request_id,
        )
        loop = asyncio.get_running_loop()
        # authorizer and handler run in one hop to a worker thread: every hop between the
        # event loop and the pool is a GIL hand-off, the gateway's main cost under load
        response = await loop.run_in_executor(self._pool, self._invoke, route, event, request_id)
        response.route, response.request_id = route.path, request_id
        return response

    def _unrouted(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> GatewayResponse:
        """A request no declared route matches: a local route, a file, or 404."""
        exact = self._local_routes.get((method, path))
        local = exact or self._local_prefix_route(method, path)
        if local is not None:
            request = LocalRequest(
                method, path, query, {k.lower(): v for k, v in headers}, body, source_ip
            )
            try:
                response = local(request)
            except Exception:
                response = _gateway_error(500, "Internal Server Error")
            # a prefix route's path carries keys (its query string, signatures): log the prefix
            response.route = path if exact else self._local_prefix(method, path)
            return response
        if method == "GET" and self._static is not None:
            found = self._static(path, query)
            if isinstance(found, GatewayResponse):
                found.route = found.route or path
                return found
            if found is not None:
                content, content_type = found
                return GatewayResponse(200, [("content-type", content_type)], content, route=path)
        return _gateway_error(404, "Not Found")

    def _invoke(self, route: Route, event: dict[str, Any], request_id: str) -> GatewayResponse:
        if route.authorized:
            identity_source = event["headers"].get("authorization")
            if not identity_source:
                return _gateway_error(401, "Unauthorized")
            try:
                verdict = self._authorizer.invoke(authorizer_event(event, identity_source))
            except Exception:
                return _gateway_error(500, "Internal Server Error")
            if not isinstance(verdict, dict) or verdict.get("isAuthorized") is not True:
                return _gateway_error(403, "Forbidden")
            event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
        function = self._functions[route.function]
        try:
            result = function.invoke(event)
        except Exception:
            # an unhandled Lambda error: API Gateway answers 500 with its own body
            return _gateway_error(500, "Internal Server Error")
        response = to_http(result)
        response.headers.append(("apigw-requestid", request_id))
        return response


def _bounded(path: str) -> str:
    """A request's path (never its query string), for its access line."""
    return path if len(path) <= 200 else f"{path[:200]}…"
