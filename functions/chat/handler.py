"""Chat API Lambda: API Gateway HTTP API (payload 2.0) → the chat routes (api/chat_app.py)."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.api.chat_app import create_app
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION

# Built once per Lambda container (or local server process), never per request.
container = container_from_env()
container.build_clients_for(DECLARATION.function("chat"))
snapstart.register(container, DECLARATION.function("chat"))  # refreshed after a SnapStart restore
_app = create_app(lambda: container)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _app(event, context)
