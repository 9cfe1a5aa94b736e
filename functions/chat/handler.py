"""Chat API Lambda: API Gateway HTTP API (payload 2.0) → FastAPI via Mangum."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.api.chat_app import create_app
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION
from mangum import Mangum

# Built once per Lambda container (or local server process), never per request.
container = container_from_env()
container.build_clients_for(DECLARATION.function("chat"))
snapstart.register(container, DECLARATION.function("chat"))  # refreshed after a SnapStart restore
_asgi = Mangum(create_app(lambda: container), lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
