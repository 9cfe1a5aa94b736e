"""Ingest API Lambda: documents of a creator and retrieval preview."""

from __future__ import annotations

from typing import Any

from creator_chat import snapstart
from creator_chat.api.ingest_app import create_app
from creator_chat.container import container_from_env
from creator_chat.observability import lambda_entry
from creator_chat.resources import DECLARATION

container = container_from_env()
container.build_clients_for(DECLARATION.function("ingest"))
snapstart.register(container, DECLARATION.function("ingest"))  # refreshed after a SnapStart restore
_app = create_app(lambda: container)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _app(event, context)
