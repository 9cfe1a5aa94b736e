"""Streamed answers over a WebSocket: the stream function's routes.

API Gateway's WebSocket API (and the local gateway's ``/v1/stream``, the same events)
invokes this for each route of ``DECLARATION.websocket_routes``:

- ``$connect`` — after the authorizer allowed the token: the connection is recorded (who,
  under which session, until when);
- ``chat`` — ``{"action": "chat", "creator_id", "message", "thread_id"?, "video_id"?,
  "filters"?}``: the
  same use case as ``POST /v1/creators/{id}/chat``, its text sent as ``{"type": "delta",
  "text"}`` messages while it is written, then one ``{"type": "done", "thread_id",
  "message_id", "citations", "cached"}`` — or ``{"type": "queued", "thread_id", "message_id",
  "status_url"}`` when it had to be queued, or ``{"type": "error", "code", "message"}``;
- ``$default`` — anything else (not JSON, an unknown action): an ``error``; the connection
  stays open;
- ``$disconnect`` — the connection's record goes.

Every guarantee of the synchronous route holds: the quota is counted once, the question is
stored before the first delta, the answer once, complete, when it is written — also when the
fan has left (sends to a gone connection are dropped, the answer is not) — and citations are
checked against the sources before ``done``. The token (in the connect URL's query string)
is never logged: nothing here logs an event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from creator_chat.api.schemas import CitationOut, FiltersIn
from creator_chat.container import Container
from creator_chat.domain.models import Connection, Identity, MessageStatus, Role, Tier
from creator_chat.errors import DomainError
from creator_chat.observability import count, logger
from creator_chat.ports import ConnectionSender
from creator_chat.usecases import chat as chat_uc

# API Gateway closes a WebSocket after 2 hours: its record lives no longer
CONNECTION_TTL_S = 2 * 3600
MAX_FRAME_CHARS = 32 * 1024  # a chat message is 4000 characters; a frame past this is refused

SenderFactory = Callable[[dict[str, Any]], ConnectionSender]


class StreamChatIn(BaseModel):
    """A ``chat`` action: the fields of ``POST /v1/creators/{id}/chat``, plus the creator."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["chat"]
    creator_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    message: str = Field(min_length=1, max_length=4000)
    thread_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    video_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # restricts the sources of this answer, as on the HTTP route
    filters: FiltersIn | None = None


def handle(container: Container, senders: SenderFactory, event: dict[str, Any]) -> dict[str, Any]:
    ctx = event.get("requestContext") or {}
    route = str(ctx.get("routeKey", "$default"))
    connection_id = str(ctx.get("connectionId", ""))
    if route == "$connect":
        return _connect(container, ctx, connection_id)
    if route == "$disconnect":
        try:
            container.connections.delete_connection(connection_id)
        except Exception:  # the record expires anyway
            logger.warning("connection record not deleted", extra={"route": route})
        return {"statusCode": 200}
    sender = senders(event)

    def send(message: dict[str, Any]) -> bool:
        try:
            return sender.send(connection_id, message)
        except Exception:  # the answer is stored whatever happens to the socket
            logger.warning("could not send to the connection", exc_info=True)
            return False

    if route == "chat":
        _chat(container, ctx, event, send)
    else:
        _refuse_default(event, send)
    return {"statusCode": 200}


def _connect(container: Container, ctx: dict[str, Any], connection_id: str) -> dict[str, Any]:
    who = _identity(ctx)
    if who is None:  # only reachable if $connect was deployed without the authorizer
        return {"statusCode": 401}
    now = int(container.clock.now())
    container.connections.put_connection(
        Connection(
            connection_id=connection_id,
            user_id=who.user_id,
            session_id=who.session_id or "",
            role=who.role.value,
            tier=who.tier.value,
            creator_id=who.creator_id,
            connected_at=now,
            expires_at=now + CONNECTION_TTL_S,
        )
    )
    count("StreamConnected")
    return {"statusCode": 200}


def _identity(ctx: dict[str, Any]) -> Identity | None:
    auth = ctx.get("authorizer") or {}
    try:
        return Identity(
            user_id=str(auth["user_id"]),
            role=Role(auth["role"]),
            tier=Tier(auth["tier"]),
            creator_id=auth.get("creator_id") or None,
            session_id=auth.get("session_id") or None,
        )
    except (KeyError, ValueError):
        return None


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def _refuse_default(event: dict[str, Any], send: Callable[[dict[str, Any]], bool]) -> None:
    body = event.get("body") or ""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        send(_error("bad_request", 'messages are JSON objects, e.g. {"action": "chat", …}'))
        return
    action = data.get("action") if isinstance(data, dict) else None
    if action is None:
        send(_error("bad_request", 'a message needs an "action" (supported: chat)'))
    else:
        send(_error("unknown_action", f"unknown action {str(action)[:40]!r} (supported: chat)"))


def _chat(
    container: Container,
    ctx: dict[str, Any],
    event: dict[str, Any],
    send: Callable[[dict[str, Any]], bool],
) -> None:
    body = event.get("body") or ""
    if len(body) > MAX_FRAME_CHARS:
        send(_error("payload_too_large", f"a message is at most {MAX_FRAME_CHARS} characters"))
        return
    try:
        request = StreamChatIn.model_validate_json(body)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
        )
        send(_error("invalid_input", problems[:500]))
        return
    who = _caller(container, ctx, str(ctx.get("connectionId", "")))
    if who is None:
        send(_error("unauthorized", "the session of this connection has ended: sign in again"))
        return
    state = {"open": True}

    def delta(text: str) -> None:
        if state["open"]:  # once the fan has gone, the answer is still written and stored
            state["open"] = send({"type": "delta", "text": text})

    try:
        result = chat_uc.ask(
            container,
            who,
            request.creator_id,
            request.message,
            thread_id=request.thread_id,
            video_id=request.video_id,
            filters=request.filters.to_domain() if request.filters else None,
            request_id=str(ctx.get("requestId", "")),
            on_delta=delta,
        )
    except DomainError as err:
        extra: dict[str, Any] = {}
        retry_after = getattr(err, "retry_after_s", None)
        if retry_after is not None:
            extra["retry_after_s"] = retry_after
        for name in ("limit", "reset_epoch"):
            if getattr(err, name, None) is not None:
                extra[name] = getattr(err, name)
        send(_error(err.code, err.message, **extra))
        return
    except Exception:
        logger.exception("streamed chat failed")
        send(_error("internal_error", "Something went wrong while answering. Please ask again."))
        return
    if not state["open"]:
        count("StreamAbandoned")  # stored all the same
    if result.status is MessageStatus.ANSWERED:
        send(
            {
                "type": "done",
                "thread_id": result.thread_id,
                "message_id": result.message_id,
                "citations": [CitationOut.of(c).model_dump() for c in result.citations],
                "cached": result.cached,
            }
        )
    elif result.status is MessageStatus.PENDING:
        send(
            {
                "type": "queued",
                "thread_id": result.thread_id,
                "message_id": result.message_id,
                "status_url": f"/v1/threads/{result.thread_id}/messages/{result.message_id}",
            }
        )
    else:
        send(_error("unavailable", result.failure_reason or "the answer could not be made"))


def _caller(container: Container, ctx: dict[str, Any], connection_id: str) -> Identity | None:
    """Who sent this message: the authorizer's context of the connection, as long as its
    session is still live (a session revoked since the connection opened ends its use)."""
    who = _identity(ctx)
    if who is None:
        return None
    if who.session_id:
        session = container.sessions.get_session(who.session_id)
        if session is None or session.revoked:
            return None
    return who
