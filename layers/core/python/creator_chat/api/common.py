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
from pydantic import BaseModel

from creator_chat.api.routing import (
    Depends,
    HttpApp,
    HTTPError,
    JSONResponse,
    Request,
    RequestInvalid,
    Response,
    Route,
)
from creator_chat.api.schemas import ErrorOut, GatewayErrorOut
from creator_chat.container import Container
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.errors import DomainError, QuotaExceeded, TokenBudgetExceeded, Unauthorized
from creator_chat.observability import logger
from creator_chat.usecases.budgets import iso_utc
from creator_chat.usecases.creators import resolve_creator_id


def request_id(request: Request) -> str:
    return request.request_id


def identity(request: Request) -> Identity:
    """The caller as the authorizer established it (API Gateway passes its context on)."""
    ctx = request.event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
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


def install_error_handlers(app: HttpApp) -> None:
    """One place maps errors to HTTP: domain errors, validation, and real faults."""

    def _domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
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

    def _validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestInvalid)
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

    def _http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPError)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        return JSONResponse(
            error_body(code, exc.detail, request_id(request)), status_code=exc.status
        )

    def _internal(request: Request) -> Response:
        logger.exception("unhandled error", extra={"request_id": request_id(request)})
        return JSONResponse(
            error_body("internal_error", "internal error", request_id(request)), status_code=500
        )

    def _aws(request: Request, exc: Exception) -> Response:
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

    app.exception_handler(DomainError, _domain)
    app.exception_handler(RequestInvalid, _validation)
    app.exception_handler(HTTPError, _http)
    app.exception_handler(ClientError, _aws)
    app.exception_handler(BotoCoreError, _aws)
    app.exception_handler(Exception, lambda request, exc: _internal(request))


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


def request_edge(request: Request, route: Route | None) -> Response | None:
    """Size and media type of request bodies, checked once for every route of an app.

    Runs before routing's refusals and validation: a body over the route's limit is a
    ``413`` (its declared Content-Length is enough to refuse it); a non-empty body with a
    media type other than JSON on a route that takes a JSON body is a ``415``. Both answer
    the API's JSON error body. The limits are the route's ``x-max-body-bytes`` (see
    ``body_limit``) or ``DEFAULT_MAX_BODY_BYTES``.
    """
    limit = DEFAULT_MAX_BODY_BYTES
    if route is not None and route.openapi_extra:
        limit = int(route.openapi_extra.get(MAX_BODY_KEY, limit))
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > limit) or len(request.body) > limit:
        return _refuse(request, 413, "payload_too_large", _too_large(limit))
    takes_json = route is not None and route.takes_body
    content_type = request.headers.get("content-type", "")
    if request.body and takes_json and not is_json_media_type(content_type):
        return _refuse(
            request,
            415,
            "unsupported_media_type",
            f"the body must be JSON (content-type: application/json), not "
            f"{(content_type or 'none')[:100]}",
        )
    return None


def _too_large(limit: int) -> str:
    return f"the request body is larger than this route's limit of {limit} bytes"


def _refuse(request: Request, status: int, code: str, message: str) -> Response:
    return JSONResponse(error_body(code, message, request_id(request)), status_code=status)


# Declared on every operation: errors share one body; API Gateway answers some itself. By
# reference, not as ``model``: FastAPI would build a field for each model of each declared
# response of each route (5 x 25 in chat) though these bodies are only documented; their
# schemas join the document when it is built (``complete_openapi``).
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


def complete_openapi(doc: dict[str, Any]) -> None:
    """The document says what the gateway does: every ``/v1`` route needs a bearer token;
    and it carries the error bodies the operations refer to."""
    from pydantic.json_schema import models_json_schema

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


def install_edge(app: HttpApp) -> None:
    """What every HTTP app installs: body limits and media types, error mapping, OpenAPI."""
    app.edge = request_edge
    install_error_handlers(app)
    app.openapi_hook = complete_openapi


ContainerFactory = Callable[[], Container]


def container(request: Request) -> Container:
    """The process's container, attached to the app when it was created."""
    factory: ContainerFactory = request.app.container_factory
    return factory()


Caller = Annotated[Identity, Depends(identity)]
ContainerDep = Annotated[Container, Depends(container)]


def creator_ref(creator_id: str, c: ContainerDep) -> str:
    """The ``{creator_id}`` of a route, given as the creator's id or its slug: the id."""
    return resolve_creator_id(c.creators, creator_id)


CreatorRef = Annotated[str, Depends(creator_ref)]
