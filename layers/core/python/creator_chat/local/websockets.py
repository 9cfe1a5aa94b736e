"""The local gateway's WebSocket API: API Gateway's WebSocket behaviour in front of the same
Lambda handlers (streamed answers at ``/v1/stream``).

As API Gateway does: the handshake runs the ``$connect`` route's REQUEST authorizer (token
in ``?token=``, the identity source the stack declares; none → 401, a Deny → 403) and then the
``$connect`` route (not 200 → the handshake is refused with its status); each text frame is
routed by its ``action`` (``$request.body.action``) to that route, else to ``$default``, and
invoked on a worker thread — frames of one connection are handled concurrently, like
API Gateway's; the handlers answer by posting to the connection (:class:`LocalConnections`,
the local stand-in for the management API's ``PostToConnection``); a closed socket runs
``$disconnect``. The access line names the path, never the query string (the token).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from creator_chat.local.logs import log_request
from creator_chat.resources import WebSocketRoute

ACCOUNT_ID = "000000000000"
API_ID = "localws"
STAGE = "local"
MAX_FRAME_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit


class LocalConnections:
    """Open sockets by connection id; ``send`` is the management API's PostToConnection,
    callable from any thread (``False`` once the connection has gone)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[str | None]]] = {}
        self._lock = threading.Lock()

    def open(
        self, connection_id: str, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        with self._lock:
            self._open[connection_id] = (loop, queue)
        return queue

    def close(self, connection_id: str) -> None:
        with self._lock:
            self._open.pop(connection_id, None)

    def send(self, connection_id: str, message: Mapping[str, Any]) -> bool:
        with self._lock:
            entry = self._open.get(connection_id)
        if entry is None:
            return False
        loop, queue = entry
        data = json.dumps(message, separators=(",", ":"))
        if len(data.encode()) > MAX_FRAME_BYTES:
            raise ValueError(f"a message is at most {MAX_FRAME_BYTES} bytes")
        try:
            loop.call_soon_threadsafe(queue.put_nowait, data)
        except RuntimeError:  # the gateway's loop has stopped
            return False
        return True


def _connection_id() -> str:
    # API Gateway's look: 12 random bytes, base64 ("L0SM9cOFvHcCIhw=")
    return base64.b64encode(secrets.token_bytes(12)).decode()


class WebSocketEndpoint:
    """One ASGI ``websocket`` scope → API Gateway WebSocket events to the Lambda handlers."""

    def __init__(
        self,
        routes: list[WebSocketRoute],
        functions: Mapping[str, Any],
        authorizer: Any,
        pool: Executor,
        connections: LocalConnections,
    ) -> None:
        self._routes = {r.route_key: r for r in routes}
        self._functions = functions
        self._authorizer = authorizer
        self._pool = pool
        self.connections = connections

    def _context(
        self, scope: dict[str, Any], route_key: str, event_type: str, connection_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "connectionId": connection_id,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "domainName": headers.get("host", "localhost"),
            "stage": STAGE,
            "apiId": API_ID,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {
                "sourceIp": (scope.get("client") or ("127.0.0.1", 0))[0],
                "userAgent": headers.get("user-agent", ""),
            },
        }

    async def _invoke(self, function: Any, event: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, function.invoke, event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        connection_id = _connection_id()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        ctx = self._context(scope, "$connect", "CONNECT", connection_id)
        ctx["connectedAt"] = ctx["requestTimeEpoch"]
        connect_event: dict[str, Any] = {
            "headers": headers,
            "queryStringParameters": query or None,
            "requestContext": ctx,
            "isBase64Encoded": False,
        }
        status = await self._connect(connect_event, headers, query)
        path = scope["path"]
        if status != 200:
            await self._refuse(scope, send, status)
            log_request("GET", path, path, status, started, ctx["requestId"])
            return
        await send({"type": "websocket.accept"})
        log_request("GET", path, path, 101, started, ctx["requestId"])
        authorizer_ctx = ctx.get("authorizer")
        loop = asyncio.get_running_loop()
        queue = self.connections.open(connection_id, loop)
        writer = asyncio.create_task(self._write(queue, send))
        tasks: set[asyncio.Task[Any]] = set()
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                task = asyncio.create_task(
                    self._message(scope, connection_id, authorizer_ctx, text)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            self.connections.close(connection_id)
            queue.put_nowait(None)
            writer.cancel()
            event = {
                "headers": headers,
                "requestContext": {
                    **self._context(scope, "$disconnect", "DISCONNECT", connection_id),
                    "authorizer": authorizer_ctx,
                    "disconnectStatusCode": 1000,
                },
                "isBase64Encoded": False,
            }
            route = self._routes.get("$disconnect")
            if route is not None:
                # the disconnect runs whether or not the messages in flight have finished:
                # they go on, and store their answers (their sends find the socket gone)
                with contextlib.suppress(Exception):
                    await self._invoke(self._functions[route.function], event)

    async def _connect(
        self, event: dict[str, Any], headers: Mapping[str, str], query: Mapping[str, str]
    ) -> int:
        route = self._routes.get("$connect")
        if route is None:
            return 200
        ctx = event["requestContext"]
        if route.authorized:
            if not query.get("token"):
                # the identity source (route.request.querystring.token, as deployed) is
                # missing: API Gateway's 401, before any function runs
                return 401
            auth_event = {
                "type": "REQUEST",
                "methodArn": (
                    f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/{STAGE}/$connect"
                ),
                **{k: v for k, v in event.items() if k != "isBase64Encoded"},
            }
            try:
                verdict = await self._invoke(self._authorizer, auth_event)
            except Exception:
                return 500
            statements = (verdict or {}).get("policyDocument", {}).get("Statement", [])
            if not statements or any(st.get("Effect") != "Allow" for st in statements):
                return 403
            ctx["authorizer"] = {
                "principalId": verdict.get("principalId", ""),
                **(verdict.get("context") or {}),
            }
        try:
            result = await self._invoke(self._functions[route.function], event)
        except Exception:
            return 500
        return int((result or {}).get("statusCode", 200)) if isinstance(result, dict) else 200

    async def _refuse(self, scope: dict[str, Any], send: Any, status: int) -> None:
        if "websocket.http.response" in (scope.get("extensions") or {}):
            reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Internal Server Error")
            body = json.dumps({"message": reason}).encode()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    async def _message(
        self,
        scope: dict[str, Any],
        connection_id: str,
        authorizer_ctx: Mapping[str, Any] | None,
        text: str,
    ) -> None:
        if len(text.encode()) > MAX_FRAME_BYTES:
            self.connections.send(
                connection_id,
                {"message": "Message too long", "connectionId": connection_id},
            )
            return
        route_key = "$default"
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            action = data.get("action")
            if isinstance(action, str) and not action.startswith("$") and action in self._routes:
                route_key = action
        route = self._routes.get(route_key)
        if route is None:
            return
        ctx = self._context(scope, route_key, "MESSAGE", connection_id)
        ctx["messageId"] = str(uuid.uuid4())
        if authorizer_ctx is not None:
            ctx["authorizer"] = dict(authorizer_ctx)
        event = {"requestContext": ctx, "body": text, "isBase64Encoded": False}
        try:
            await self._invoke(self._functions[route.function], event)
        except Exception:
            # API Gateway tells the client its integration failed, and keeps the socket
            self.connections.send(
                connection_id,
                {"message": "Internal server error", "connectionId": connection_id},
            )

    @staticmethod
    async def _write(queue: asyncio.Queue[str | None], send: Any) -> None:
        while True:
            data = await queue.get()
            if data is None:
                return
            try:
                await send({"type": "websocket.send", "text": data})
            except Exception:
                return
