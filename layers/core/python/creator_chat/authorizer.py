"""The Lambda authorizer's decision (HTTP API, payload 2.0, simple responses), for any container.

Verifies the JWT (JWKS for Cognito, HS256 locally), maps it to an identity, and checks the
token's session has not been revoked. Denies by returning ``isAuthorized: false``; raises
(API Gateway: 500, not cached) only when the session store is unavailable, since a deny would
be cached for the token. Never logs the token.
"""

from __future__ import annotations

from typing import Any

from creator_chat.auth import TokenVerifier
from creator_chat.container import Container
from creator_chat.errors import DependencyUnavailable, DomainError
from creator_chat.observability import count, logger
from creator_chat.usecases.sessions import ensure_session

MAX_TOKEN_CHARS = 8192
DENY: dict[str, Any] = {"isAuthorized": False}


def bearer(event: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token.strip()


def authorize(
    container: Container, verifier: TokenVerifier, event: dict[str, Any]
) -> dict[str, Any]:
    token = bearer(event)
    if token is None:
        return DENY
    try:
        verified = verifier.verify_token(token)
        session = ensure_session(
            container.sessions, container.clock, verified, ttl_s=container.settings.session_ttl_s
        )
    except DependencyUnavailable:
        # Not the caller's fault (DynamoDB throttled or down): fail as an error — API Gateway
        # answers 500 and caches nothing — not as a deny, which it would cache for the token
        # and the page would read as "signed out". Nobody gets in either way.
        logger.warning("session check unavailable", extra={"route": event.get("routeKey")})
        raise
    except DomainError as err:
        logger.info("denied", extra={"reason": err.code, "route": event.get("routeKey")})
        count("AuthDenied")
        return DENY
    if session is None:
        logger.info("denied", extra={"reason": "session_revoked", "route": event.get("routeKey")})
        count("AuthDenied")
        return DENY
    who = verified.identity
    ctx: dict[str, Any] = {
        "user_id": who.user_id,
        "role": who.role.value,
        "tier": who.tier.value,
        "session_id": session.session_id,
    }
    if who.creator_id:
        ctx["creator_id"] = who.creator_id
    return {"isAuthorized": True, "context": ctx}
