"""Lambda authorizer for the HTTP API (payload 2.0, simple responses).

Denies by returning ``isAuthorized: false`` — never by raising, which API Gateway would
count as an authorizer error (500). Never logs the token.
"""

from __future__ import annotations

from typing import Any

from creator_chat.auth import TokenVerifier
from creator_chat.errors import Unauthorized
from creator_chat.observability import lambda_entry, logger
from creator_chat.settings import Settings

verifier = TokenVerifier(Settings())
MAX_TOKEN_CHARS = 8192
DENY: dict[str, Any] = {"isAuthorized": False}


def _bearer(event: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token.strip()


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = _bearer(event)
    if token is None:
        return DENY
    try:
        who = verifier.verify(token)
    except Unauthorized as err:
        logger.info("denied", extra={"reason": err.message, "route": event.get("routeKey")})
        return DENY
    ctx: dict[str, Any] = {"user_id": who.user_id, "role": who.role.value, "tier": who.tier.value}
    if who.creator_id:
        ctx["creator_id"] = who.creator_id
    if who.session_id:
        ctx["session_id"] = who.session_id
    return {"isAuthorized": True, "context": ctx}
