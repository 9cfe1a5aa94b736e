"""What every HTTP app shares: identity from the authorizer, error mapping, request ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from creator_chat.container import Container
from creator_chat.domain.models import Identity, Role, Tier
from creator_chat.errors import DomainError, QuotaExceeded, Unauthorized
from creator_chat.observability import logger


def aws_event(request: Request) -> dict[str, Any]:
    event = request.scope.get("aws.event")
    return event if isinstance(event, dict) else {}


def request_id(request: Request) -> str:
    return str(aws_event(request).get("requestContext", {}).get("requestId", ""))


def identity(request: Request) -> Identity:
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


def error_body(code: str, message: str, rid: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": rid}}


def install_error_handlers(app: FastAPI) -> None:
    """One place maps errors to HTTP: domain errors, validation, and real faults."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, QuotaExceeded):
            headers = {
                "Retry-After": str(exc.retry_after_s),
                "X-RateLimit-Limit": str(exc.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(exc.reset_epoch),
            }
        return JSONResponse(
            error_body(exc.code, exc.message, request_id(request)),
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

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"request_id": request_id(request)})
        return JSONResponse(
            error_body("internal_error", "internal error", request_id(request)), status_code=500
        )


ContainerFactory = Callable[[], Container]


def container(request: Request) -> Container:
    """The process's container, attached to the app when it was created."""
    factory: ContainerFactory = request.app.state.container_factory
    return factory()


Caller = Annotated[Identity, Depends(identity)]
ContainerDep = Annotated[Container, Depends(container)]
