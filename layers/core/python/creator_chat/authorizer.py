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
    return _decide(container, verifier, token, event)


def websocket_token(event: dict[str, Any]) -> str | None:
    """A WebSocket's token: ``?token=`` (a browser cannot set headers on a WebSocket) or an
    ``Authorization: Bearer`` header (other clients)."""
    query = event.get("queryStringParameters") or {}
    token = str(query.get("token") or "").strip()
    if token:
        return token if len(token) <= MAX_TOKEN_CHARS else None
    return bearer(event)


def authorize_websocket(
    container: Container, verifier: TokenVerifier, event: dict[str, Any]
) -> dict[str, Any]:
    """The WebSocket API's ``$connect`` authorizer (REQUEST type, which must answer with an
    IAM policy): the same token rules, sessions and roles as the HTTP API. Allowed, the
    context reaches every message of the connection as ``requestContext.authorizer``."""
    token = websocket_token(event)
    verdict = _decide(container, verifier, token, event) if token else DENY
    allowed = verdict.get("isAuthorized") is True
    context = verdict.get("context") or {}
    return {
        "principalId": str(context.get("user_id") or "anonymous"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if allowed else "Deny",
                    "Resource": event.get("methodArn", "*"),
                }
            ],
        },
        "context": context,
    }


def is_websocket_event(event: dict[str, Any]) -> bool:
    """A WebSocket ``$connect`` authorizer event (``methodArn``), not an HTTP API one."""
    return "methodArn" in event and "routeArn" not in event


def _decide(
    container: Container, verifier: TokenVerifier, token: str, event: dict[str, Any]
) -> dict[str, Any]:
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
