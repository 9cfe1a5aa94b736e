"""What every HTTP app shares: identity from the authorizer, error mapping, request ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creator_chat.api.schemas import ErrorOut, GatewayErrorOut
from creator_chat.container import Container
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.errors import DomainError, QuotaExceeded, TokenBudgetExceeded, Unauthorized
from creator_chat.observability import logger
from creator_chat.usecases.budgets import iso_utc
from creator_chat.usecases.creators import resolve_creator_id


def aws_event(request: Request) -> dict[str, Any]:
    event = request.scope.get("aws.event")
    return event if isinstance(event, dict) else {}


def request_id(request: Request) -> str:
    return _scope_request_id(request.scope)


def _scope_request_id(scope: Scope) -> str:
    event = scope.get("aws.event")
    ctx = event.get("requestContext", {}) if isinstance(event, dict) else {}
    return str(ctx.get("requestId", ""))


async def identity(request: Request) -> Identity:
    """The caller as the authorizer established it (API Gateway passes its context on)."""
    ctx = aws_event(request).get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    try:
        return Identity(
            user_id=str(ctx["user_id"]),
            role=Role(ctx["role"]),
            tier=Tier(ctx["tier"]),
            creator_id=ctx.get("creator_id") or None,
            session_id=ctx.get("session_id") or None,
        )
    except (KeyError, ValueError) as err:
        # only reachable if a route was deployed without the authorizer
        raise Unauthorized("missing identity") from err


def error_body(code: str, message: str, rid: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": rid, **details}}


# AWS answers these when it is throttling or briefly failing (DynamoDB, S3, SQS alike)
AWS_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TransactionConflictException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
    }
)
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def aws_unavailable(exc: BaseException) -> str | None:
    """Why an AWS call failed, if it failed because the service throttled or was
    unreachable (not because the request was wrong); ``None`` otherwise."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in AWS_UNAVAILABLE_CODES or status == 429 or status >= 500:
            return code or f"HTTP {status}"
    if isinstance(exc, _UNREACHABLE):
        return type(exc).__name__
    return None


def token_budget_details(exc: TokenBudgetExceeded) -> dict[str, Any]:
    """What a 429 ``token_budget_exceeded`` body adds to ``error`` (``BudgetErrorDetail``)."""
    return {
        "token_budget": exc.limit,
        "tokens_used": exc.used,
        "tokens_reserved": exc.reserved,
        "tokens_left": max(0, exc.limit - exc.used - exc.reserved),
        "reset_epoch": exc.reset_epoch,
        "reset_at": iso_utc(exc.reset_epoch),
    }


def install_error_handlers(app: FastAPI) -> None:
    """One place maps errors to HTTP: domain errors, validation, and real faults."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers: dict[str, str] = {}
        details: dict[str, Any] = {}
        if isinstance(exc, QuotaExceeded):
            headers = {
                "Retry-After": str(exc.retry_after_s),
                "X-RateLimit-Limit": str(exc.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(exc.reset_epoch),
            }
        elif isinstance(exc, TokenBudgetExceeded):
            # the X-RateLimit-* headers stay the hourly quota's: the budget is in the body
            headers = {"Retry-After": str(exc.retry_after_s)}
            details = token_budget_details(exc)
        return JSONResponse(
            error_body(exc.code, exc.message, request_id(request), **details),
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("malformed_json", "request body is not valid JSON", request_id(request)),
                status_code=400,
            )
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in errors[:5]
        )
        return JSONResponse(
            error_body("invalid_input", detail, request_id(request)), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail), request_id(request)), status_code=exc.status_code
        )

    def _internal(request: Request) -> JSONResponse:
        logger.exception("unhandled error", extra={"request_id": request_id(request)})
        return JSONResponse(
            error_body("internal_error", "internal error", request_id(request)), status_code=500
        )

    async def _aws(request: Request, exc: Exception) -> JSONResponse:
        unavailable = aws_unavailable(exc)
        if unavailable is None:
            return _internal(request)
        # an AWS call no adapter translated: throttled or unreachable is a 503, not a 500
        logger.warning(
            "dependency unavailable",
            extra={"request_id": request_id(request), "reason": unavailable},
        )
        message = f"a dependency is unavailable ({unavailable}); retry later"
        return JSONResponse(
            error_body("dependency_unavailable", message, request_id(request)), status_code=503
        )

    app.add_exception_handler(ClientError, _aws)
    app.add_exception_handler(BotoCoreError, _aws)

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request)


# ---------------------------------------------------------------------- request edge
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_BODY_KEY = "x-max-body-bytes"  # per route, in ``openapi_extra``: enforced and documented


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` for a route whose bodies may be larger (or must be smaller) than
    ``DEFAULT_MAX_BODY_BYTES``."""
    return {MAX_BODY_KEY: max_bytes}


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestEdge:
    """Size and media type of request bodies, checked once for every route of an app.

    Runs before routing and validation: a body over the route's limit is a ``413`` (its
    declared Content-Length is enough to refuse it unread); a non-empty body with a media
    type other than JSON on a route that takes a JSON body is a ``415``. Both answer the
    API's JSON error body. The limits are the route's ``x-max-body-bytes`` (see
    ``body_limit``) or ``DEFAULT_MAX_BODY_BYTES``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _matching_route(scope)
        limit = DEFAULT_MAX_BODY_BYTES
        if route is not None and route.openapi_extra:
            limit = int(route.openapi_extra.get(MAX_BODY_KEY, limit))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, 413, "payload_too_large", _too_large(limit))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(scope, receive, send, 413, "payload_too_large", _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        takes_json = route is not None and route.body_field is not None
        if body and takes_json and not is_json_media_type(headers.get("content-type", "")):
            media = headers.get("content-type", "") or "none"
            await _refuse(
                scope,
                receive,
                send,
                415,
                "unsupported_media_type",
                f"the body must be JSON (content-type: application/json), not {media[:100]}",
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than this route's limit of {limit} bytes"


def _matching_route(scope: Scope) -> APIRoute | None:
    """The API route this request will reach (docs and other plain routes: ``None``)."""
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route if isinstance(route, APIRoute) else None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
) -> None:
    response = JSONResponse(error_body(code, message, _scope_request_id(scope)), status_code=status)
    await response(scope, receive, send)


# Declared on every operation: errors share one body; API Gateway answers some itself. By
# reference, not as ``model``: FastAPI builds a validating field for each model of each
# declared response of each route (5 x 25 in chat: ~25 ms of its cold start) though these
# bodies are only documented; their schemas join the document when it is first built.
DOCUMENTED_ERROR_MODELS: tuple[type[BaseModel], ...] = (ErrorOut, GatewayErrorOut)


def _json_of(*models: type[BaseModel]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{model.__name__}"} for model in models]
    return {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Refused: `{error: {code, message, request_id}}`",
        "content": _json_of(ErrorOut),
    },
    401: {
        "description": "No or invalid token (API Gateway: `{message}`)",
        "content": _json_of(ErrorOut, GatewayErrorOut),
    },
    403: {
        "description": "Refused (the authorizer's denial: `{message}`)",
        "content": _json_of(ErrorOut, GatewayErrorOut),
    },
    413: {
        "description": "Body over the route's limit (or API Gateway's)",
        "content": _json_of(ErrorOut, GatewayErrorOut),
    },
    503: {
        "description": "A dependency is unavailable: retry later",
        "content": _json_of(ErrorOut),
    },
}


def install_openapi(app: FastAPI) -> None:
    """The document says what the gateway does: every ``/v1`` route needs a bearer token."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()  # FastAPI's document, cached on the app: completed once, here
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
            _, defs = models_json_schema(
                [(model, "serialization") for model in DOCUMENTED_ERROR_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            schemas = doc["components"].setdefault("schemas", {})
            for name, schema in defs.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            for path, operations in doc.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def install_edge(app: FastAPI) -> None:
    """What every HTTP app installs: body limits and media types, error mapping, OpenAPI.

    Endpoints and dependencies are ``async def`` although they block: Lambda (through
    Mangum) and the local gateway run one request per event loop, so there is nothing to
    keep responsive, and FastAPI would otherwise move every sync endpoint *and* every sync
    dependency to a thread of its own pool — four thread hops per request that measured as
    the local gateway's largest cost under load (docs/performance.md).
    """
    app.add_middleware(RequestEdge)
    install_error_handlers(app)
    install_openapi(app)


ContainerFactory = Callable[[], Container]


async def container(request: Request) -> Container:
    """The process's container, attached to the app when it was created."""
    factory: ContainerFactory = request.app.state.container_factory
    return factory()


Caller = Annotated[Identity, Depends(identity)]
ContainerDep = Annotated[Container, Depends(container)]


async def creator_ref(creator_id: str, c: ContainerDep) -> str:
    """The ``{creator_id}`` of a route, given as the creator's id or its slug: the id."""
    return resolve_creator_id(c.creators, creator_id)


CreatorRef = Annotated[str, Depends(creator_ref)]
