"""Lambda authorizer for the HTTP API (payload 2.0, simple responses).

The decision is ``creator_chat.authorizer.authorize``: verify the JWT (JWKS for Cognito,
HS256 locally), map it to an identity, refuse a revoked session. Never logs the token.
"""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.auth import TokenVerifier
from creator_chat.authorizer import authorize, authorize_websocket, is_websocket_event
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION

container = container_from_env()
container.build_clients_for(DECLARATION.function("authorizer"))
snapstart.register(
    container, DECLARATION.function("authorizer")
)  # refreshed after a SnapStart restore
verifier = TokenVerifier(container.settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_websocket_event(event):  # the WebSocket API's $connect (streamed answers)
        return authorize_websocket(container, verifier, event)
    return authorize(container, verifier, event)
